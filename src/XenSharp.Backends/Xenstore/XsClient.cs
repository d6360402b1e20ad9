using System.Text;
using XenSharp.Abi;

namespace XenSharp.Backends.Xenstore;

/// <summary>
/// An in-process connection to the store, acting as one domain (0: privileged — the toolstack). Every request is
/// processed at once under the store's lock and its reply returned; watch events wait until <see cref="TakeEvents"/>.
/// Relative paths are relative to /local/domain/&lt;domid&gt;. Thread-safe; errors are returned, never thrown.
/// </summary>
public sealed class XsClient : IDisposable
{
    private readonly XenStore _store;
    private readonly StoreConnection _connection;

    internal XsClient(XenStore store, StoreConnection connection)
    {
        _store = store;
        _connection = connection;
    }

    public uint Domid => _connection.Domid;

    /// <summary>Sends a raw request (payload exactly as given) in transaction <paramref name="tx"/> (0: none).</summary>
    public XsReply Request(XsMessageType type, ReadOnlySpan<byte> payload, uint tx = 0)
    {
        (XsMessageType t, byte[] p) = _store.Request(_connection, type, tx, payload.ToArray());
        return new XsReply(t, p);
    }

    /// <summary>Sends a request whose payload is <paramref name="args"/>, each NUL-terminated.</summary>
    public XsReply Request(XsMessageType type, uint tx, params string[] args) =>
        Request(type, Encoding.Latin1.GetBytes(string.Concat(args.Select(a => a + "\0"))), tx);

    /// <summary>The value at <paramref name="path"/>, or null with the error.</summary>
    public string? Read(string path, out XsError error, uint tx = 0)
    {
        XsReply r = Request(XsMessageType.Read, tx, path);
        error = r.Error;
        return r.IsError ? null : Encoding.Latin1.GetString(r.Payload);
    }

    public string? Read(string path, uint tx = 0) => Read(path, out _, tx);

    /// <summary>WRITE: the value is sent without a terminator, as xenstore values are.</summary>
    public XsError Write(string path, string value, uint tx = 0) =>
        Request(XsMessageType.Write, Encoding.Latin1.GetBytes($"{path}\0{value}"), tx).Error;

    public XsError Mkdir(string path, uint tx = 0) => Request(XsMessageType.Mkdir, tx, path).Error;

    public XsError Remove(string path, uint tx = 0) => Request(XsMessageType.Rm, tx, path).Error;

    public XsError SetPermissions(string path, uint tx, params XsPermission[] permissions) =>
        Request(XsMessageType.SetPerms, tx, [path, .. permissions.Select(p => p.ToString())]).Error;

    public XsError SetPermissions(string path, params XsPermission[] permissions) => SetPermissions(path, 0, permissions);

    /// <summary>The permissions of a node as GET_PERMS spells them ("n0", "r5"), or null.</summary>
    public string[]? GetPermissions(string path, uint tx = 0)
    {
        XsReply r = Request(XsMessageType.GetPerms, tx, path);
        return r.IsError ? null : r.Strings;
    }

    /// <summary>The children's leaf names, or null.</summary>
    public string[]? Directory(string path, uint tx = 0)
    {
        XsReply r = Request(XsMessageType.Directory, tx, path);
        return r.IsError ? null : r.Strings;
    }

    /// <summary>A new transaction's id, or 0 with the error.</summary>
    public uint StartTransaction(out XsError error)
    {
        XsReply r = Request(XsMessageType.TransactionStart, 0, "");
        error = r.Error;
        return r.IsError ? 0 : uint.Parse(r.Text, System.Globalization.CultureInfo.InvariantCulture);
    }

    public XsError EndTransaction(uint tx, bool commit) => Request(XsMessageType.TransactionEnd, tx, commit ? "T" : "F").Error;

    public XsError Watch(string path, string token) => Request(XsMessageType.Watch, 0, path, token).Error;

    public XsError Unwatch(string path, string token) => Request(XsMessageType.Unwatch, 0, path, token).Error;

    /// <summary>The watch events that arrived since the last call, oldest first.</summary>
    public IReadOnlyList<(string Path, string Token)> TakeEvents() => _store.TakeEvents(_connection);

    /// <summary>Runs <paramref name="body"/> in a transaction and commits, starting again while the commit is EAGAIN (as libxl does).</summary>
    public XsError Transact(Func<uint, XsError> body, int attempts = 100)
    {
        for (int i = 0; i < attempts; i++)
        {
            uint tx = StartTransaction(out XsError e);
            if (e != XsError.None)
            {
                return e;
            }

            e = body(tx);
            if (e != XsError.None)
            {
                EndTransaction(tx, commit: false);
                return e;
            }

            e = EndTransaction(tx, commit: true);
            if (e != XsError.EAGAIN)
            {
                return e;
            }
        }

        return XsError.EAGAIN;
    }

    public void Dispose() => _store.Disconnect(_connection);
}
