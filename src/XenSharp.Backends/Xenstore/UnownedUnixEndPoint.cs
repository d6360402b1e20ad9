using System.Net;
using System.Net.Sockets;

namespace XenSharp.Backends.Xenstore;

/// <summary>
/// A Unix socket path that a Socket binds to without taking charge of the file: bound through a
/// <see cref="UnixDomainSocketEndPoint"/>, .NET deletes whatever is at the path when the socket is disposed, even a file
/// or a live xenstored's socket that took the path meanwhile. Bound through this, the file is the binder's to remove.
/// </summary>
internal sealed class UnownedUnixEndPoint(string path) : EndPoint
{
    private readonly UnixDomainSocketEndPoint _inner = new(path);

    public override AddressFamily AddressFamily => AddressFamily.Unix;

    public override SocketAddress Serialize() => _inner.Serialize();

    public override EndPoint Create(SocketAddress socketAddress) => _inner.Create(socketAddress);

    public override string ToString() => _inner.ToString();
}
