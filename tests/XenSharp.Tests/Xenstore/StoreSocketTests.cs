using System.Buffers.Binary;
using System.Net.Sockets;
using System.Text;
using XenSharp.Abi;
using XenSharp.Backends.Xenstore;
using Xunit;

namespace XenSharp.Tests.Xenstore;

/// <summary>The host socket: xenstored's wire format, every client privileged, a framing error disconnects only that client.</summary>
public sealed class StoreSocketTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), $"xs-{Guid.NewGuid():N}");
    private readonly StoreFixture _f = new();
    private readonly StoreSocketServer _server;

    public StoreSocketTests()
    {
        _server = StoreSocketServer.Start(_f.Store, Path.Combine(_dir, "socket"));
    }

    public void Dispose()
    {
        _server.Dispose();
        Assert.False(File.Exists(_server.Path));
        _f.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public void ClientsArePrivilegedAndGetRepliesAndEvents()
    {
        using Socket s = Connect();
        Send(s, XsMessageType.Write, 1, "/local/domain/9/x\0v");
        Assert.Equal((XsMessageType.Write, 1u, "OK\0"), Receive(s));
        Send(s, XsMessageType.IsDomainIntroduced, 2, "9\0");
        Assert.Equal((XsMessageType.IsDomainIntroduced, 2u, "F\0"), Receive(s));
        Send(s, XsMessageType.Watch, 3, "/local/domain/9\0tok\0");
        Assert.Equal((XsMessageType.Watch, 3u, "OK\0"), Receive(s));
        Assert.Equal((XsMessageType.WatchEvent, 0u, "/local/domain/9\0tok\0"), Receive(s));
        _f.Dom0.Write("/local/domain/9/y", "1");
        Assert.Equal((XsMessageType.WatchEvent, 0u, "/local/domain/9/y\0tok\0"), Receive(s));
        Assert.Equal("v", _f.Dom0.Read("/local/domain/9/x"));

        // A request in pieces, and two in one send.
        byte[] m = Message(XsMessageType.Read, 4, "/local/domain/9/x\0");
        s.Send(m.AsSpan(0, 5));
        Thread.Sleep(20);
        s.Send([.. m[5..], .. Message(XsMessageType.Read, 5, "/nothing\0")]);
        Assert.Equal((XsMessageType.Read, 4u, "v"), Receive(s));
        Assert.Equal((XsMessageType.Error, 5u, "ENOENT\0"), Receive(s));
    }

    [Fact]
    public void AnOverlongPayloadDisconnectsThatClientOnly()
    {
        using Socket bad = Connect();
        using Socket good = Connect();
        var header = new byte[16];
        BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(12), 5000);
        bad.Send(header);
        bad.ReceiveTimeout = 5000;
        Assert.Equal(0, bad.Receive(new byte[16])); // closed by the store

        Send(good, XsMessageType.GetDomainPath, 1, "3\0");
        Assert.Equal((XsMessageType.GetDomainPath, 1u, "/local/domain/3\0"), Receive(good));
    }

    [Fact]
    public void AClientThatGoesAwayTakesItsWatchesAndTransactions()
    {
        int before = _f.Store.ConnectionCount;
        using (Socket s = Connect())
        {
            Send(s, XsMessageType.Watch, 1, "/gone\0t\0");
            Receive(s);
            Receive(s);
            Send(s, XsMessageType.TransactionStart, 2, "\0");
            Receive(s);
        }

        DateTime until = DateTime.UtcNow.AddSeconds(10);
        while (_f.Store.ConnectionCount != before && DateTime.UtcNow < until)
        {
            Thread.Sleep(10);
        }

        Assert.Equal(before, _f.Store.ConnectionCount);
        Assert.Equal(XsError.None, _f.Dom0.Write("/gone/x", "1"));
        using Socket again = Connect();
        Send(again, XsMessageType.Read, 1, "/gone/x\0");
        Assert.Equal((XsMessageType.Read, 1u, "1"), Receive(again));
    }

    private Socket Connect()
    {
        var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified) { ReceiveTimeout = 10000 };
        s.Connect(new UnixDomainSocketEndPoint(_server.Path));
        return s;
    }

    private static byte[] Message(XsMessageType type, uint reqId, string payload)
    {
        byte[] p = Encoding.Latin1.GetBytes(payload);
        var m = new byte[16 + p.Length];
        BinaryPrimitives.WriteUInt32LittleEndian(m, (uint)type);
        BinaryPrimitives.WriteUInt32LittleEndian(m.AsSpan(4), reqId);
        BinaryPrimitives.WriteUInt32LittleEndian(m.AsSpan(12), (uint)p.Length);
        p.CopyTo(m, 16);
        return m;
    }

    private static void Send(Socket s, XsMessageType type, uint reqId, string payload) => s.Send(Message(type, reqId, payload));

    private static (XsMessageType Type, uint ReqId, string Payload) Receive(Socket s)
    {
        byte[] h = ReceiveExactly(s, 16);
        byte[] p = ReceiveExactly(s, (int)BinaryPrimitives.ReadUInt32LittleEndian(h.AsSpan(12)));
        return ((XsMessageType)BinaryPrimitives.ReadUInt32LittleEndian(h), BinaryPrimitives.ReadUInt32LittleEndian(h.AsSpan(4)), Encoding.Latin1.GetString(p));
    }

    private static byte[] ReceiveExactly(Socket s, int n)
    {
        var b = new byte[n];
        for (int got = 0; got < n;)
        {
            int r = s.Receive(b, got, n - got, SocketFlags.None);
            Assert.True(r > 0, "the store closed the connection");
            got += r;
        }

        return b;
    }
}
