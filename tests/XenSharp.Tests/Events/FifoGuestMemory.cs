using System.Runtime.InteropServices;
using XenSharp.Abi;
using XenSharp.Hypervisor;
using XenSharp.Hypervisor.Domains;
using XenSharp.Hypervisor.Events;
using XenSharp.Hypervisor.Memory;
using XenSharp.Tests.Builder;
using Xunit;

namespace XenSharp.Tests.Events;

/// <summary>
/// A 2-vCPU domain in heap memory (no KVM) and the guest's view of its FIFO pages: control blocks in frame 0 (vCPU 0
/// at offset 0, vCPU 1 at <see cref="Vcpu1Offset"/>), event-array pages from frame 1 on. Reads and writes go straight
/// to the frames, as the guest's own stores would.
/// </summary>
internal sealed class FifoGuestMemory : IDisposable
{
    public const uint Pending = 1u << EventFifoLayout.PendingBit;
    public const uint Masked = 1u << EventFifoLayout.MaskedBit;
    public const uint Linked = 1u << EventFifoLayout.LinkedBit;
    public const uint Busy = 1u << EventFifoLayout.BusyBit;
    public const int Vcpu1Offset = 128;

    public FifoGuestMemory(ulong pages = 256)
    {
        Hypervisor = TestDomains.Hypervisor(Log);
        Domain = Hypervisor.CreateDomain("fifo", 2, pages, new CapturingConsole());
    }

    public StringWriter Log { get; } = new();

    public XenHypervisor Hypervisor { get; }

    public Domain Domain { get; }

    public EventChannelTable Events => Domain.Events;

    public Mfn ControlFrame => Frame(0);

    public Mfn Frame(int pfn) => Domain.P2m[pfn];

    public ulong Gfn(int pfn) => Frame(pfn).Value;

    /// <summary>Both vCPUs' control blocks, then <paramref name="arrayPages"/> event-array pages (frames 1..n).</summary>
    public void StartFifo(int arrayPages = 1)
    {
        Assert.Equal(0, Events.InitControl(Gfn(0), 0, 0));
        Assert.Equal(0, Events.InitControl(Gfn(0), Vcpu1Offset, 1));
        for (int i = 1; i <= arrayPages; i++)
        {
            Assert.Equal(0, Events.ExpandArray(Gfn(i)));
        }
    }

    public ref uint Word(int port) =>
        ref MemoryMarshal.Cast<byte, uint>(Domain.Pool.Frame(Frame(1 + (port / EventFifoLayout.WordsPerPage))))[port % EventFifoLayout.WordsPerPage];

    public uint Link(int port) => Word(port) & EventFifoLayout.LinkMask;

    public ref uint Ready(int vcpu) => ref ControlWord(vcpu, EventFifoLayout.ControlReady);

    public ref uint Head(int vcpu, int priority) => ref ControlWord(vcpu, EventFifoLayout.ControlHead + (priority * 4));

    public byte UpcallPending(int vcpu) => Domain.Vcpus[vcpu].VcpuInfo[SharedInfoLayout.UpcallPending];

    public void ClearUpcall(int vcpu) => Domain.Vcpus[vcpu].VcpuInfo[SharedInfoLayout.UpcallPending] = 0;

    /// <summary>What a guest's upcall handler does with one queue: walk from the head, unlink and acknowledge each event; returns the ports in order.</summary>
    public List<int> Consume(int vcpu, int priority)
    {
        var ports = new List<int>();
        uint port = Head(vcpu, priority);
        Head(vcpu, priority) = 0;
        while (port != 0 && ports.Count < 100)
        {
            ports.Add((int)port);
            ref uint w = ref Word((int)port);
            uint link = w & EventFifoLayout.LinkMask;
            w &= ~(Linked | Pending | EventFifoLayout.LinkMask);
            port = link;
        }

        Ready(vcpu) &= ~(1u << priority);
        return ports;
    }

    public FrameInfo FrameInfo(Mfn mfn) => Domain.Pool.Frames[mfn];

    public void Dispose() => Hypervisor.Dispose();

    private ref uint ControlWord(int vcpu, int offset) =>
        ref MemoryMarshal.Cast<byte, uint>(Domain.Pool.Frame(ControlFrame).Slice((vcpu == 0 ? 0 : Vcpu1Offset) + offset, 4))[0];
}
