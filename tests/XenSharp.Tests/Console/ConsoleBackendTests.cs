using System.Buffers.Binary;
using System.Text;
using XenSharp.Abi;
using XenSharp.Backends.Console;
using XenSharp.Hypervisor;
using XenSharp.Hypervisor.Domains;
using XenSharp.Hypervisor.Events;
using XenSharp.Hypervisor.Hypercalls;
using XenSharp.Hypervisor.Memory;
using XenSharp.Tests.Builder;
using XenSharp.Toolstack.Builder;
using Xunit;

namespace XenSharp.Tests.Console;

/// <summary>The console backend against a built domain in heap memory: the test plays the guest by writing the ring page directly.</summary>
public sealed class ConsoleBackendTests : IDisposable
{
    private const ulong Scratch = 0x200000;
    private readonly StringWriter _log = new();
    private readonly XenHypervisor _hv;
    private readonly CapturingConsole _sink = new();
    private readonly Domain _d;
    private readonly Mfn _ring;
    private readonly int _port;
    private readonly ConsoleBackend _backend;

    public ConsoleBackendTests()
    {
        _hv = TestDomains.Hypervisor(_log);
        _d = _hv.Control.Get(PvDomainBuilder.Build(_hv, new BuildRequest("c", TestDomains.GenericKernel(), 16, 1, ""), _sink, out DomainRings rings));
        (_ring, _port) = (rings.ConsoleMfn, rings.ConsolePort);
        _backend = ConsoleBackend.Attach(_d.Hypervisor, _d.Id, _ring, _port, _sink, Timeout.InfiniteTimeSpan, ownThread: false);
    }

    public void Dispose()
    {
        _backend.Dispose();
        _hv.Dispose();
    }

    private Span<byte> Page => _hv.Pool.Frame(_ring);

    [Fact]
    public void AttachConnectsThePortAndMarksThePageConnected()
    {
        Assert.Equal(2, _port); // libxl's order: the xenstore port is 1
        Assert.Equal(0, Page[XenConsoleLayout.Connection]);
        Assert.Equal(0, _d.Events.Status((uint)_port, out EventChannelStatus s));
        Assert.Equal(new EventChannelStatus(EventChannelStatusCode.Interdomain, 0, 0, (uint)_port), s);
        Assert.Throws<ArgumentException>(() => ConsoleBackend.Attach(_d.Hypervisor, _d.Id, _ring, _port, _sink, Timeout.InfiniteTimeSpan));
        Assert.Throws<ArgumentException>(() => ConsoleBackend.Attach(_d.Hypervisor, _d.Id, new Mfn(0), _port, _sink, Timeout.InfiniteTimeSpan));
    }

    [Fact]
    public void SendOnTheConsolePortOnlyPostsToTheBackendsLoop()
    {
        GuestWrite("hello, ring\r\n");
        Assert.Equal(0, SendOnly());
        Assert.Equal(0, SendOnly()); // coalesces with the first
        Assert.Equal("", _sink.Text); // nothing ran on the sending vCPU's thread
        Assert.Equal(0U, Idx(XenConsoleLayout.OutCons));
        Assert.True(_backend.Loop.IsPending);
        Assert.True(_backend.Loop.RunPending());
        Assert.False(_backend.Loop.RunPending()); // one pass served both
        Assert.Equal(1, _backend.Loop.Passes);
        Assert.Equal("hello, ring\r\n", _sink.Text);
        Assert.Equal(Idx(XenConsoleLayout.OutProd), Idx(XenConsoleLayout.OutCons));
        Assert.True(_d.Events.IsPending((uint)_port)); // the backend notified the guest back
        Assert.False(_backend.Service());
    }

    [Fact]
    public void IndicesWrapAroundTwoToTheThirtyTwo()
    {
        SetIdx(XenConsoleLayout.OutCons, 0xfffffff0);
        SetIdx(XenConsoleLayout.OutProd, 0xfffffff0);
        string text = "0123456789abcdefghijklmnopqrstuv";
        GuestWrite(text);
        Assert.Equal(0x10U, Idx(XenConsoleLayout.OutProd));
        Assert.True(_backend.Service());
        Assert.Equal(text, _sink.Text);
        Assert.Equal(0x10U, Idx(XenConsoleLayout.OutCons));
    }

    [Fact]
    public void AFullRingIsOneServicePass()
    {
        SetIdx(XenConsoleLayout.OutCons, 100);
        SetIdx(XenConsoleLayout.OutProd, 100);
        string text = new string('x', XenConsoleLayout.OutSize - 1) + "!";
        GuestWrite(text);
        Assert.True(_backend.Service());
        Assert.Equal(text, _sink.Text);
        Assert.Equal(100U + XenConsoleLayout.OutSize, Idx(XenConsoleLayout.OutCons));
    }

    [Theory]
    [InlineData(0u, 0x80000000u)]              // prod racing ahead by 2^31
    [InlineData(10u, 10u + XenConsoleLayout.OutSize + 1)] // one byte more than the ring holds
    [InlineData(500u, 100u)]                   // cons ahead of prod
    [InlineData(0xffffffffu, 0xfffffffeu)]
    [InlineData(0u, 0xffffffffu)]
    public void HostileOutIndicesAreLoggedOnceAndResynchronised(uint cons, uint prod)
    {
        Page.Slice(XenConsoleLayout.Out, XenConsoleLayout.OutSize).Fill((byte)'z');
        SetIdx(XenConsoleLayout.OutCons, cons);
        SetIdx(XenConsoleLayout.OutProd, prod);
        Assert.Equal(0, GuestSend());
        Assert.Equal("", _sink.Text);
        Assert.Equal(prod, Idx(XenConsoleLayout.OutCons));

        SetIdx(XenConsoleLayout.OutProd, prod + 0x40000000);
        Assert.True(_backend.Service());
        Assert.Equal("", _sink.Text);
        Assert.Single(_log.ToString().Split('\n'), l => l.Contains("console ring corrupt"));

        // The guest can carry on from the resynchronised index.
        SetIdx(XenConsoleLayout.OutCons, 7);
        SetIdx(XenConsoleLayout.OutProd, 7);
        GuestWrite("ok");
        Assert.Equal(0, GuestSend());
        Assert.Equal("ok", _sink.Text);
    }

    [Fact]
    public void InputGoesIntoTheInRingWithAnEvent()
    {
        Feed("abc");
        ClearPending();
        Assert.True(_backend.Service());
        Assert.Equal(3U, Idx(XenConsoleLayout.InProd));
        Assert.Equal("abc", Encoding.ASCII.GetString(Page.Slice(XenConsoleLayout.In, 3)));
        Assert.True(_d.Events.IsPending((uint)_port));
        Assert.False(_backend.Service());
    }

    [Fact]
    public void InputBeyondTheRingWaitsForTheGuestToConsume()
    {
        string text = string.Concat(Enumerable.Range(0, 1500).Select(i => (char)('a' + (i % 26))));
        Feed(text);
        Assert.True(_backend.Service());
        Assert.Equal((uint)XenConsoleLayout.InSize, Idx(XenConsoleLayout.InProd));
        Assert.False(_backend.Service()); // full

        SetIdx(XenConsoleLayout.InCons, 1000); // the guest read 1000 bytes
        Assert.True(_backend.Service());
        Assert.Equal(1500U, Idx(XenConsoleLayout.InProd));
        var ring = new StringBuilder();
        for (uint i = 1000; i < 1500; i++)
        {
            ring.Append((char)Page[XenConsoleLayout.In + (int)(i % XenConsoleLayout.InSize)]);
        }

        Assert.Equal(text[1000..], ring.ToString());
        Assert.Empty(_sink.Input);
    }

    [Theory]
    [InlineData(0u, 2000u)]       // in_cons beyond in_prod
    [InlineData(0x80000000u, 5u)]
    public void HostileInConsIsResynchronised(uint cons, uint prod)
    {
        SetIdx(XenConsoleLayout.InCons, cons);
        SetIdx(XenConsoleLayout.InProd, prod);
        Feed("hi");
        Assert.True(_backend.Service());
        Assert.Equal(cons + 2, Idx(XenConsoleLayout.InProd));
        Assert.Contains("console ring corrupt", _log.ToString());
    }

    [Fact]
    public void ARingFrameTheDomainNoLongerOwnsIsNeverTouched()
    {
        GuestWrite("lost");
        ref FrameInfo f = ref _hv.Pool.Frames[_ring];
        ushort owner = f.Owner;
        f.Owner = FrameOwner.Xen; // as if the guest had given the page away
        Feed("in");
        Assert.False(_backend.Service());
        Assert.Equal(0, GuestSend());
        Assert.Equal("", _sink.Text);
        Assert.Equal(0U, Idx(XenConsoleLayout.OutCons));
        Assert.Equal(0U, Idx(XenConsoleLayout.InProd));
        Assert.Contains("no longer the domain's", _log.ToString());
        f.Owner = owner;
    }

    [Fact]
    public void DisposeDrainsTheLastOutputAndUnbindsThePort()
    {
        GuestWrite("last words");
        _backend.Dispose();
        Assert.Equal("last words", _sink.Text);
        Assert.Equal(0, _d.Events.Status((uint)_port, out EventChannelStatus s));
        Assert.Equal(EventChannelStatusCode.Unbound, s.Status);
        GuestWrite("more");
        Assert.Equal(0, GuestSend());
        Assert.False(_backend.Service());
        Assert.Equal("last words", _sink.Text);
    }

    [Fact]
    public void ADestroyedDomainIsLeftAlone()
    {
        GuestWrite("x");
        _hv.Destroy(_d);
        Assert.False(_backend.Service());
        _backend.Dispose();
        Assert.Equal("", _sink.Text);
    }

    [Fact]
    public void TheTimerPicksUpInputAndUnnotifiedOutput()
    {
        Domain d = _hv.Control.Get(PvDomainBuilder.Build(_hv, new BuildRequest("t", TestDomains.GenericKernel(), 16, 1, ""), _sink, out DomainRings rings));
        (Mfn ring, int port) = (rings.ConsoleMfn, rings.ConsolePort);
        var sink = new CapturingConsole();
        sink.Input.Enqueue((byte)'k');
        using ConsoleBackend polled = ConsoleBackend.Attach(d.Hypervisor, d.Id, ring, port, sink, TimeSpan.FromMilliseconds(1));
        Span<byte> page = _hv.Pool.Frame(ring);
        page[XenConsoleLayout.Out] = (byte)'p';
        BinaryPrimitives.WriteUInt32LittleEndian(page[XenConsoleLayout.OutProd..], 1);
        DateTime until = DateTime.UtcNow.AddSeconds(10);
        while ((BinaryPrimitives.ReadUInt32LittleEndian(_hv.Pool.Frame(ring)[XenConsoleLayout.InProd..]) != 1 || sink.Text != "p") && DateTime.UtcNow < until)
        {
            Thread.Sleep(5);
        }

        Assert.Equal(1U, BinaryPrimitives.ReadUInt32LittleEndian(_hv.Pool.Frame(ring)[XenConsoleLayout.InProd..]));
        Assert.Equal("p", sink.Text);
    }

    [Fact]
    public void ConsoleIoAndTheRingPrintEachLineOnceThroughAMux()
    {
        var target = new CapturingConsole();
        var mux = new ConsoleMux(target);
        Domain d = _hv.Control.Get(PvDomainBuilder.Build(_hv, new BuildRequest("m", TestDomains.GenericKernel(), 16, 1, ""), mux.Hypercall, out DomainRings rings));
        (Mfn ring, int port) = (rings.ConsoleMfn, rings.ConsolePort);
        using ConsoleBackend b = ConsoleBackend.Attach(d.Hypervisor, d.Id, ring, port, mux.Ring, Timeout.InfiniteTimeSpan, ownThread: false);
        Vcpu v = d.Vcpus[0];

        // XTF: every line through console_io, then through the ring.
        foreach (string line in new[] { "--- Xen Test Framework ---\r\n", "Test result: SUCCESS\r\n" })
        {
            Assert.True(v.CopyToGuest(Scratch, Encoding.ASCII.GetBytes(line)));
            Assert.Equal(0L, (long)HypercallDispatcher.Dispatch(v, HypercallNumber.ConsoleIo, ConsoleIoOp.Write, (ulong)line.Length, Scratch, 0, 0));
            Span<byte> page = _hv.Pool.Frame(ring);
            uint prod = BinaryPrimitives.ReadUInt32LittleEndian(page[XenConsoleLayout.OutProd..]);
            foreach (byte c in Encoding.ASCII.GetBytes(line))
            {
                page[XenConsoleLayout.Out + (int)(prod++ % XenConsoleLayout.OutSize)] = c;
            }

            BinaryPrimitives.WriteUInt32LittleEndian(page[XenConsoleLayout.OutProd..], prod);
            Assert.True(v.CopyToGuest(Scratch, BitConverter.GetBytes((uint)port)));
            Assert.Equal(0L, (long)HypercallDispatcher.Dispatch(v, HypercallNumber.EventChannelOp, EventChannelOp.Send, Scratch, 0, 0, 0));
            Assert.True(b.Loop.RunPending());
        }

        Assert.Equal("--- Xen Test Framework ---\r\nTest result: SUCCESS\r\n", target.Text);
    }

    private void GuestWrite(string text)
    {
        uint prod = Idx(XenConsoleLayout.OutProd);
        foreach (byte c in Encoding.ASCII.GetBytes(text))
        {
            Page[XenConsoleLayout.Out + (int)(prod++ & (XenConsoleLayout.OutSize - 1))] = c;
        }

        SetIdx(XenConsoleLayout.OutProd, prod);
    }

    /// <summary>The guest sends on its console port, then the backend's loop runs the pass that posted.</summary>
    private long GuestSend()
    {
        long rc = SendOnly();
        _backend.Loop.RunPending();
        return rc;
    }

    private long SendOnly()
    {
        Vcpu v = _d.Vcpus[0];
        Assert.True(v.CopyToGuest(Scratch, BitConverter.GetBytes((uint)_port)));
        return (long)HypercallDispatcher.Dispatch(v, HypercallNumber.EventChannelOp, EventChannelOp.Send, Scratch, 0, 0, 0);
    }

    private void Feed(string text)
    {
        foreach (byte c in Encoding.ASCII.GetBytes(text))
        {
            _sink.Input.Enqueue(c);
        }
    }

    private void ClearPending() => _d.SharedInfoPage.Slice(SharedInfoLayout.EvtchnPending, 512).Clear();

    private uint Idx(int offset) => BinaryPrimitives.ReadUInt32LittleEndian(Page[offset..]);

    private void SetIdx(int offset, uint value) => BinaryPrimitives.WriteUInt32LittleEndian(Page[offset..], value);
}
