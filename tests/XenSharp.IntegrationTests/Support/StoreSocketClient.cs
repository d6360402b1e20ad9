using System.Buffers.Binary;
using System.Net.Sockets;
using System.Text;
using XenSharp.Abi;

namespace XenSharp.IntegrationTests.Support;

/// <summary>
/// A client of `xensharp run --xenstore-socket` speaking xenstored's wire format (a 16-byte header: type, request id,
/// transaction id, length; then the payload), one request at a time, as domain 0: for a test that reads a running
/// domain's nodes or writes its control/shutdown. Every receive is bounded by <see cref="Limits.Generous"/>.
/// </summary>
public sealed class StoreSocketClient : IDisposable
{
    private readonly Socket _socket;

    public StoreSocketClient(string path)
    {
        _socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified) { ReceiveTimeout = (int)Limits.Generous.TotalMilliseconds };
        _socket.Connect(new UnixDomainSocketEndPoint(path));
    }

    /// <summary>Whether something listens on <paramref name="path"/>.</summary>
    public static bool Listening(string path)
    {
        using var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            s.Connect(new UnixDomainSocketEndPoint(path));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    /// <summary>The node's value, or null when the store answers with an error (e.g. ENOENT).</summary>
    public string? Read(string path)
    {
        (XsMessageType type, string payload) = Request(XsMessageType.Read, path + "\0");
        return type == XsMessageType.Read ? payload : null;
    }

    /// <summary>Writes the node; the store's error, if any, is an exception.</summary>
    public void Write(string path, string value)
    {
        (XsMessageType type, string payload) = Request(XsMessageType.Write, $"{path}\0{value}");
        if (type != XsMessageType.Write)
        {
            throw new InvalidOperationException($"writing {path}: the store answered {type} {payload.TrimEnd('\0')}");
        }
    }

    public void Dispose() => _socket.Dispose();

    /// <summary>One request in the wire format and the store's answer: its type (<see cref="XsMessageType.Error"/> for an error) and payload.</summary>
    public (XsMessageType Type, string Payload) Request(XsMessageType type, string payload)
    {
        byte[] p = Encoding.ASCII.GetBytes(payload);
        var m = new byte[16 + p.Length];
        BinaryPrimitives.WriteUInt32LittleEndian(m, (uint)type);
        BinaryPrimitives.WriteUInt32LittleEndian(m.AsSpan(12), (uint)p.Length);
        p.CopyTo(m, 16);
        _socket.Send(m);
        byte[] h = Exactly(16);
        byte[] body = Exactly((int)BinaryPrimitives.ReadUInt32LittleEndian(h.AsSpan(12)));
        return ((XsMessageType)BinaryPrimitives.ReadUInt32LittleEndian(h), Encoding.ASCII.GetString(body));
    }

    private byte[] Exactly(int n)
    {
        var b = new byte[n];
        for (int got = 0; got < n;)
        {
            int r = _socket.Receive(b, got, n - got, SocketFlags.None);
            if (r <= 0)
            {
                throw new IOException("the store closed the socket");
            }

            got += r;
        }

        return b;
    }
}
