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

namespace XenSharp.Tests.Backends;

/// <summary>
/// A hostile guest flooding its console port with notifications: each send only posts to its own backend's loop, so
/// it neither runs backend work on its vCPU's thread nor touches another domain's console.
/// </summary>
public sealed class NotifyFloodTests : IDisposable
{
    private const ulong Scratch = 0x200000;
    private readonly XenHypervisor _hv = TestDomains.Hypervisor();

    public void Dispose() => _hv.Dispose();

    [Fact]
    public void AFloodCostsOnePassOfTheFloodersOwnBackendAndNothingOfAnothers()
    {
        (Domain hostile, Mfn hostileRing, int hostilePort) = Build("hostile");
        (Domain quiet, Mfn quietRing, int quietPort) = Build("quiet");
        var hostileSink = new CapturingConsole();
        var quietSink = new CapturingConsole();
        using ConsoleBackend h = ConsoleBackend.Attach(_hv, hostile.Id, hostileRing, hostilePort, hostileSink, Timeout.InfiniteTimeSpan, ownThread: false);
        using ConsoleBackend q = ConsoleBackend.Attach(_hv, quiet.Id, quietRing, quietPort, quietSink, Timeout.InfiniteTimeSpan, ownThread: false);

        WriteRing(hostileRing, "spam");
        for (int i = 0; i < 10_000; i++)
        {
            Assert.Equal(0L, Send(hostile, hostilePort));
        }

        Assert.Equal("", hostileSink.Text); // no backend work ran inside the 10 000 hypercalls
        Assert.False(q.Loop.IsPending);

        WriteRing(quietRing, "hello from quiet\r\n");
        Assert.Equal(0L, Send(quiet, quietPort));
        Assert.True(q.Loop.RunPending());
        Assert.Equal("hello from quiet\r\n", quietSink.Text);
        Assert.Equal(0, h.Loop.Passes); // the quiet console was served without waiting for the flood

        Assert.True(h.Loop.RunPending());
        Assert.False(h.Loop.RunPending()); // 10 000 notifications, one pass
        Assert.Equal("spam", hostileSink.Text);
    }

    [Fact]
    public void WhileOneGuestFloodsAnothersConsoleIsServedOnItsOwnThread()
    {
        (Domain hostile, Mfn hostileRing, int hostilePort) = Build("hostile");
        (Domain quiet, Mfn quietRing, int quietPort) = Build("quiet");
        var quietSink = new SignallingConsole("done\r\n");
        using ConsoleBackend h = ConsoleBackend.Attach(_hv, hostile.Id, hostileRing, hostilePort, new CapturingConsole(), Timeout.InfiniteTimeSpan);
        using ConsoleBackend q = ConsoleBackend.Attach(_hv, quiet.Id, quietRing, quietPort, quietSink, Timeout.InfiniteTimeSpan);

        using var stop = new CancellationTokenSource();
        int flooder = 0;
        long floods = 0;
        var flood = new Thread(() =>
        {
            flooder = Environment.CurrentManagedThreadId;
            while (!stop.IsCancellationRequested)
            {
                Send(hostile, hostilePort);
                floods++;
            }
        });
        flood.Start();
        try
        {
            WriteRing(quietRing, "done\r\n");
            Assert.Equal(0L, Send(quiet, quietPort));
            Assert.True(quietSink.Seen.Wait(TimeSpan.FromMinutes(2)), "the quiet domain's console was not served"); // hang guard
        }
        finally
        {
            stop.Cancel();
            flood.Join();
        }

        Assert.Equal("done\r\n", quietSink.Text);
        Assert.DoesNotContain(Environment.CurrentManagedThreadId, quietSink.Threads);
        Assert.DoesNotContain(flooder, quietSink.Threads);
        Assert.True(h.Loop.Passes <= floods); // coalesced: never more passes than notifications
    }

    private (Domain Domain, Mfn Ring, int Port) Build(string name)
    {
        Domain d = _hv.Control.Get(PvDomainBuilder.Build(_hv, new BuildRequest(name, TestDomains.GenericKernel(), 16, 1, ""), new CapturingConsole(), out DomainRings rings));
        return (d, rings.ConsoleMfn, rings.ConsolePort);
    }

    private void WriteRing(Mfn ring, string text)
    {
        Span<byte> page = _hv.Pool.Frame(ring);
        uint prod = BinaryPrimitives.ReadUInt32LittleEndian(page[XenConsoleLayout.OutProd..]);
        foreach (byte c in Encoding.ASCII.GetBytes(text))
        {
            page[XenConsoleLayout.Out + (int)(prod++ & (XenConsoleLayout.OutSize - 1))] = c;
        }

        BinaryPrimitives.WriteUInt32LittleEndian(page[XenConsoleLayout.OutProd..], prod);
    }

    private static long Send(Domain d, int port)
    {
        Vcpu v = d.Vcpus[0];
        Assert.True(v.CopyToGuest(Scratch, BitConverter.GetBytes((uint)port)));
        return (long)HypercallDispatcher.Dispatch(v, HypercallNumber.EventChannelOp, EventChannelOp.Send, Scratch, 0, 0, 0);
    }

    /// <summary>Records its output and the threads that wrote it; signals once the output ends with a given text.</summary>
    private sealed class SignallingConsole(string until) : IConsoleSink
    {
        private readonly object _lock = new();
        private readonly StringBuilder _text = new();

        public ManualResetEventSlim Seen { get; } = new();

        public HashSet<int> Threads { get; } = new();

        public string Text
        {
            get
            {
                lock (_lock)
                {
                    return _text.ToString();
                }
            }
        }

        public void Write(ReadOnlySpan<byte> bytes)
        {
            lock (_lock)
            {
                _text.Append(Encoding.ASCII.GetString(bytes));
                Threads.Add(Environment.CurrentManagedThreadId);
                if (_text.ToString().EndsWith(until, StringComparison.Ordinal))
                {
                    Seen.Set();
                }
            }
        }

        public int Read(Span<byte> buffer) => 0;
    }
}
