using System.Buffers.Binary;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using XenSharp.Toolstack.Daemon;
using Xunit;

namespace XenSharp.Tests.Daemon;

/// <summary>
/// Clients that misbehave get an error reply or a closed connection, and the daemon goes on serving everyone else:
/// malformed JSON, an oversized frame, an unknown verb, a client closing mid-frame or mid-request.
/// </summary>
public sealed class ControlServerTests : IDisposable
{
    private readonly DaemonFixture _daemon = new();

    public void Dispose() => _daemon.Dispose();

    private Socket Raw()
    {
        var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        s.Connect(new UnixDomainSocketEndPoint(_daemon.SocketPath));
        return s;
    }

    private static async Task<JsonObject?> ReadReply(Socket s)
    {
        using var stream = new NetworkStream(s, ownsSocket: false);
        byte[]? frame = await ControlFrame.ReadAsync(stream);
        return frame is null ? null : ControlFrame.Parse(frame);
    }

    private static void SendFrame(Socket s, byte[] body)
    {
        byte[] header = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(header, (uint)body.Length);
        s.Send(header);
        s.Send(body);
    }

    private void AssertStillServing()
    {
        JsonObject reply = _daemon.Request(new JsonObject { ["verb"] = "list" });
        Assert.True(reply["ok"]!.GetValue<bool>());
    }

    [Fact]
    public async Task MalformedJson_GetsAnErrorReply_AndTheConnectionServesTheNextRequest()
    {
        using Socket s = Raw();
        SendFrame(s, Encoding.UTF8.GetBytes("{\"verb\": "));
        JsonObject reply = (await ReadReply(s))!;
        Assert.False(reply["ok"]!.GetValue<bool>());
        Assert.StartsWith("malformed request: ", reply["error"]!.GetValue<string>());

        SendFrame(s, Encoding.UTF8.GetBytes("{\"verb\": \"list\"}"));
        Assert.True((await ReadReply(s))!["ok"]!.GetValue<bool>());
    }

    [Fact]
    public async Task AnOversizedFrame_GetsAnErrorReply_ThenTheConnectionIsClosed()
    {
        using Socket s = Raw();
        byte[] header = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(header, 0x7fffffff);
        s.Send(header);
        JsonObject reply = (await ReadReply(s))!;
        Assert.False(reply["ok"]!.GetValue<bool>());
        Assert.Contains("larger than", reply["error"]!.GetValue<string>());
        Assert.Null(await ReadReply(s)); // closed
        AssertStillServing();
    }

    [Fact]
    public async Task AnUnknownVerb_IsNamedInTheErrorReply()
    {
        using Socket s = Raw();
        SendFrame(s, Encoding.UTF8.GetBytes("{\"verb\": \"frobnicate\"}"));
        JsonObject reply = (await ReadReply(s))!;
        Assert.Equal("unknown verb 'frobnicate'", reply["error"]!.GetValue<string>());
    }

    [Fact]
    public void AClientClosingMidFrame_LeavesTheDaemonServing()
    {
        using (Socket s = Raw())
        {
            s.Send([0, 0, 0, 100, (byte)'{', (byte)'"']); // 100 bytes announced, 2 sent
        }

        using (Socket s = Raw())
        {
            s.Send([0, 0]); // inside the length
        }

        AssertStillServing();
    }

    [Fact]
    public void AClientClosingBeforeItsReply_LeavesTheDaemonServing()
    {
        _daemon.CreatePaused("a");
        using (Socket s = Raw())
        {
            SendFrame(s, Encoding.UTF8.GetBytes("{\"verb\": \"wait\", \"domain\": \"a\"}")); // waits until a ends: never here
        }

        AssertStillServing();
        using ControlClient c = _daemon.Connect();
        Assert.True(c.Request(new JsonObject { ["verb"] = "destroy", ["domain"] = "a" })["ok"]!.GetValue<bool>());
    }

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public void TheSocketIsReadableAndWritableByOwnerAndGroupOnly()
    {
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite,
            File.GetUnixFileMode(_daemon.SocketPath));
    }

    [Fact]
    public void ASecondDaemonOnTheSamePathIsRefused()
    {
        var e = Assert.Throws<DaemonException>(() => ControlServer.Start(_daemon.SocketPath, (_, _) => Task.FromResult(ControlReply.Ok()), Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance));
        Assert.Contains("already listening", e.Message);
    }
}
