using System.Net.Sockets;
using XenSharp.Backends.Xenstore;
using Xunit;

namespace XenSharp.Tests.Xenstore;

/// <summary>
/// Where xenstored's socket may go: nothing is ever removed but a stale socket; a file, a directory, a link or a
/// socket a server listens on is refused with one line and left as it was.
/// </summary>
public sealed class StoreSocketPathTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("xensharp-socketpath-").FullName;
    private readonly StoreFixture _f = new();

    public void Dispose()
    {
        _f.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public void NothingThereIsFree()
    {
        Assert.False(StoreSocketPath.Check(Path.Combine(_dir, "socket")));
    }

    [Fact]
    public void ARegularFileIsRefusedAndKept()
    {
        string path = Path.Combine(_dir, "notes.txt");
        File.WriteAllText(path, "precious");

        var check = Assert.Throws<StoreSocketException>(() => StoreSocketPath.Check(path));
        var start = Assert.Throws<StoreSocketException>(() => StoreSocketServer.Start(_f.Store, path));

        Assert.Equal($"{path}: exists and is not a socket (a regular file); not replacing it", check.Message);
        Assert.Equal(check.Message, start.Message);
        Assert.Equal("precious", File.ReadAllText(path));
    }

    [Fact]
    public void ADirectoryIsRefused()
    {
        var error = Assert.Throws<StoreSocketException>(() => StoreSocketServer.Start(_f.Store, _dir));

        Assert.Equal($"{_dir}: is a directory, not a socket", error.Message);
        Assert.True(Directory.Exists(_dir));
    }

    [Fact]
    public void ASymbolicLinkIsRefusedEvenToAStaleSocket()
    {
        string stale = StaleSocket("stale");
        string link = Path.Combine(_dir, "link");
        File.CreateSymbolicLink(link, stale);

        var error = Assert.Throws<StoreSocketException>(() => StoreSocketServer.Start(_f.Store, link));

        Assert.Equal($"{link}: exists and is not a socket (a symbolic link); not replacing it", error.Message);
        Assert.NotNull(new FileInfo(link).LinkTarget);
    }

    [Fact]
    public void ASocketSomeoneListensOnIsRefusedAndKeepsWorking()
    {
        string path = Path.Combine(_dir, "live");
        using var live = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        live.Bind(new UnixDomainSocketEndPoint(path));
        live.Listen(1);

        var error = Assert.Throws<StoreSocketException>(() => StoreSocketServer.Start(_f.Store, path));

        Assert.Equal($"{path}: a xenstored is already listening on this socket; stop it or choose another path", error.Message);
        using var client = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        client.Connect(new UnixDomainSocketEndPoint(path));
    }

    [Fact]
    public void AStaleSocketIsReplaced()
    {
        string path = StaleSocket("socket");
        Assert.True(StoreSocketPath.Check(path));

        using (StoreSocketServer server = StoreSocketServer.Start(_f.Store, path))
        {
            using var client = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            client.Connect(new UnixDomainSocketEndPoint(path));
        }

        Assert.False(File.Exists(path));
    }

    /// <summary>The server removes its socket on Dispose, but not a file that took its place meanwhile.</summary>
    [Fact]
    public void StoppingLeavesAFileThatReplacedTheSocket()
    {
        string path = Path.Combine(_dir, "socket");
        StoreSocketServer server = StoreSocketServer.Start(_f.Store, path);
        File.Delete(path);
        File.WriteAllText(path, "someone else's");

        server.Dispose();

        Assert.Equal("someone else's", File.ReadAllText(path));
    }

    [Fact]
    public void ADirectoryInTheWayOfTheSocketsDirectoryIsOneLine()
    {
        string blocker = Path.Combine(_dir, "run");
        File.WriteAllText(blocker, "");
        string path = Path.Combine(blocker, "xenstored", "socket");

        var error = Assert.Throws<StoreSocketException>(() => StoreSocketServer.Start(_f.Store, path));

        Assert.StartsWith($"{path}: cannot create its directory: ", error.Message);
        Assert.DoesNotContain('\n', error.Message);
    }

    /// <summary>A socket file whose server has gone: bound, never listened on, closed (without .NET removing the file).</summary>
    private string StaleSocket(string name)
    {
        string path = Path.Combine(_dir, name);
        using var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        s.Bind(new UnownedUnixEndPoint(path));
        return path;
    }
}
