using System.Net.Sockets;
using System.Text;
using XenSharp.Toolstack.Daemon;
using Xunit;

namespace XenSharp.Tests.Daemon;

/// <summary>
/// A domain's console in the daemon: kept output replayed, several clients, typed bytes queued until Ctrl-], sessions
/// that end with the domain after its last output.
/// </summary>
public sealed class ConsoleHubTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("xsc").FullName;
    private readonly CancellationTokenSource _cancel = new();

    public void Dispose()
    {
        _cancel.Cancel();
        Directory.Delete(_dir, recursive: true);
    }

    /// <summary>A connected pair of Unix stream sockets: the hub's end and the client's.</summary>
    private (NetworkStream Hub, NetworkStream Client) Pair()
    {
        string path = Path.Combine(_dir, Guid.NewGuid().ToString("N")[..8]);
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(path));
        listener.Listen(1);
        var client = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        client.Connect(new UnixDomainSocketEndPoint(path));
        return (new NetworkStream(listener.Accept(), ownsSocket: true), new NetworkStream(client, ownsSocket: true));
    }

    private static async Task<string> Read(Stream s, int count)
    {
        byte[] b = new byte[count];
        await s.ReadExactlyAsync(b);
        return Encoding.UTF8.GetString(b);
    }

    [Fact]
    public async Task TwoClientsSeeTheKeptOutputAndWhatFollows_TypedBytesQueueUntilCtrlRightBracket()
    {
        var hub = new ConsoleHub();
        hub.Write("boot\n"u8);
        (NetworkStream hubEnd1, NetworkStream first) = Pair();
        (NetworkStream hubEnd2, NetworkStream second) = Pair();
        Task session1 = hub.AttachAsync(hubEnd1, _cancel.Token);
        Task session2 = hub.AttachAsync(hubEnd2, _cancel.Token);
        Assert.Equal("boot\n", await Read(first, 5));
        Assert.Equal("boot\n", await Read(second, 5));

        hub.Write("$ "u8);
        Assert.Equal("$ ", await Read(first, 2));
        Assert.Equal("$ ", await Read(second, 2));

        await first.WriteAsync(Encoding.ASCII.GetBytes("uname\n\u001dnot sent"));
        await session1; // Ctrl-] ended the first session
        byte[] typed = new byte[32];
        Assert.Equal("uname\n", Encoding.ASCII.GetString(typed, 0, hub.Read(typed)));

        hub.Write("x"u8);
        Assert.Equal("x", await Read(second, 1)); // the second is still attached
        second.Dispose(); // a client that goes away ends its session too
        await session2;
    }

    [Fact]
    public async Task DetachAll_EndsASessionAfterItsQueuedOutput_AndALateAttachGetsTheHistoryAndTheEnd()
    {
        var hub = new ConsoleHub();
        (NetworkStream hubEnd, NetworkStream client) = Pair();
        Task session = hub.AttachAsync(hubEnd, _cancel.Token);
        hub.Write("last words\n"u8);
        hub.DetachAll();
        await session; // ended by the domain's end, not by the client
        hubEnd.Dispose();
        Assert.Equal("last words\n", await new StreamReader(client).ReadToEndAsync());

        (NetworkStream lateEnd, NetworkStream late) = Pair();
        await hub.AttachAsync(lateEnd, _cancel.Token); // attached as the domain went: what there was, then the end
        lateEnd.Dispose();
        Assert.Equal("last words\n", await new StreamReader(late).ReadToEndAsync());
    }

    [Fact]
    public void TheKeptOutputIsTheLastHistoryBytes()
    {
        var hub = new ConsoleHub();
        hub.Write(Encoding.ASCII.GetBytes(new string('a', ConsoleHub.HistoryBytes)));
        hub.Write("end"u8);
        Assert.Equal(ConsoleHub.HistoryBytes, hub.History.Length);
        Assert.EndsWith("aaend", hub.History);
    }
}
