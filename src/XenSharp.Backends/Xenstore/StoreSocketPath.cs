using System.Net.Sockets;
using XenSharp.Kvm;

namespace XenSharp.Backends.Xenstore;

/// <summary>
/// Whether a path may become xenstored's socket. Invariant: nothing at the path is ever removed but a socket that no
/// server listens on any more (a connect to it is refused: its xenstored is gone). Anything else there — a regular
/// file, a directory, a symbolic link, a socket a live xenstored answers on — is refused with a one-line reason and
/// left as it was.
/// </summary>
public static class StoreSocketPath
{
    /// <summary>Checks the path without changing anything: true when a stale socket is there, false when nothing is.</summary>
    /// <exception cref="StoreSocketException">Something that must not be replaced is there.</exception>
    public static bool Check(string path)
    {
        HostFileType type = TypeOf(path);
        return type switch
        {
            HostFileType.None => false,
            HostFileType.Socket when IsListening(path) =>
                throw new StoreSocketException($"{path}: a xenstored is already listening on this socket; stop it or choose another path"),
            HostFileType.Socket => true,
            HostFileType.Directory => throw new StoreSocketException($"{path}: is a directory, not a socket"),
            _ => throw new StoreSocketException($"{path}: exists and is not a socket ({Describe(type)}); not replacing it"),
        };
    }

    /// <summary>Checks the path like <see cref="Check"/> and removes a stale socket, so a new one can be bound there.</summary>
    /// <exception cref="StoreSocketException">Something that must not be replaced is there, or the stale socket cannot be removed.</exception>
    public static void Claim(string path)
    {
        if (Check(path))
        {
            Remove(path);
        }
    }

    /// <summary>Removes the socket at <paramref name="path"/> if it is still a socket nobody listens on; anything else stays.</summary>
    public static void RemoveIfStale(string path)
    {
        try
        {
            if (TypeOf(path) == HostFileType.Socket && !IsListening(path))
            {
                File.Delete(path);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or StoreSocketException)
        {
        }
    }

    /// <summary>
    /// Whether a server accepts connections on the socket: a non-blocking connect succeeds, or finds the backlog full
    /// (EAGAIN); refused means no one listens.
    /// </summary>
    private static bool IsListening(string path)
    {
        using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified) { Blocking = false };
        try
        {
            probe.Connect(new UnixDomainSocketEndPoint(path));
            return true;
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionRefused)
        {
            return false;
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.WouldBlock)
        {
            return true;
        }
        catch (SocketException e)
        {
            throw new StoreSocketException($"{path}: cannot tell whether a xenstored listens on this socket: {e.Message}", e);
        }
    }

    private static HostFileType TypeOf(string path)
    {
        try
        {
            return HostFiles.TypeOf(path);
        }
        catch (IOException e)
        {
            throw new StoreSocketException(e.Message, e);
        }
    }

    private static void Remove(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new StoreSocketException($"{path}: cannot remove the stale socket: {e.Message}", e);
        }
    }

    private static string Describe(HostFileType type) => type switch
    {
        HostFileType.Regular => "a regular file",
        HostFileType.SymbolicLink => "a symbolic link",
        HostFileType.Fifo => "a FIFO",
        HostFileType.CharacterDevice => "a character device",
        HostFileType.BlockDevice => "a block device",
        _ => type.ToString(),
    };
}
