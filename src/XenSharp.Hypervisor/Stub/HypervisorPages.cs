using System.Buffers.Binary;
using XenSharp.Abi;
using XenSharp.Hypervisor.Memory;

namespace XenSharp.Hypervisor.Stub;

/// <summary>
/// Hypervisor frames shared by every domain, built once per pool: stub code, IDT, a zero page for the guest part of
/// each GDT, the L1 that maps code and IDT, and the L3/L2 that map the M2P read-only with 2 MiB pages.
/// Guests can read only the M2P; everything else is supervisor-only. None of these frames is ever written after
/// start-up, so sharing them between domains shares nothing a guest can change.
/// </summary>
internal sealed class HypervisorPages
{
    private HypervisorPages(StubImage stub, Extent frames, Mfn codeL1, Mfn zero, Mfn m2pL3)
    {
        Stub = stub;
        Frames = frames;
        CodeL1 = codeL1;
        ZeroFrame = zero;
        M2pL3 = m2pL3;
    }

    public StubImage Stub { get; }

    /// <summary>All the shared frames: one extent, so each domain's VM needs one memory slot for them (plus the M2P).</summary>
    public Extent Frames { get; }

    public Mfn CodeL1 { get; }

    public Mfn ZeroFrame { get; }

    public Mfn M2pL3 { get; }

    public static HypervisorPages Create(MachinePool pool, StubImage stub)
    {
        int codePages = (stub.Code.Length + Mfn.PageSize - 1) / Mfn.PageSize;
        // code pages, IDT, zero page, code L1, M2P L3, M2P L2
        ulong count = (ulong)codePages + 5;
        Extent e = pool.Allocate(count, FrameOwner.Xen) ?? throw new InvalidOperationException("no room in the pool for the hypervisor's own pages");
        Mfn code = e.First;
        Mfn idt = code.Add((ulong)codePages);
        Mfn zero = idt.Add(1);
        Mfn codeL1 = zero.Add(1);
        Mfn m2pL3 = codeL1.Add(1);
        Mfn m2pL2 = m2pL3.Add(1);

        stub.Code.CopyTo(pool.Memory.GetSpan(code.Address, stub.Code.Length));

        Span<byte> idtBytes = pool.Frame(idt);
        for (int v = 0; v < 256; v++)
        {
            // #BP and #OF stay reachable from ring 3 (int3, into) as on bare metal; every other `int n` faults.
            int dpl = v is 3 or 4 ? 3 : 0;
            (ulong low, ulong high) = X86Descriptors.InterruptGate(stub.VectorEntries[v], XenSelectors.HypervisorCs64, dpl);
            BinaryPrimitives.WriteUInt64LittleEndian(idtBytes[(v * 16)..], low);
            BinaryPrimitives.WriteUInt64LittleEndian(idtBytes[((v * 16) + 8)..], high);
        }

        Span<ulong> l1 = pool.FrameAsEntries(codeL1);
        for (int i = 0; i < codePages; i++)
        {
            l1[(int)(StubLayout.CodeOffset >> 12) + i] = code.Add((ulong)i).Address | PageTableFlags.Present | PageTableFlags.Accessed;
        }

        l1[(int)(StubLayout.IdtOffset >> 12)] = idt.Address | PageTableFlags.Present | PageTableFlags.Accessed | PageTableFlags.NoExecute;

        const ulong guestReadOnly = PageTableFlags.Present | PageTableFlags.User | PageTableFlags.Accessed;
        pool.FrameAsEntries(m2pL3)[0] = m2pL2.Address | guestReadOnly;
        Span<ulong> l2 = pool.FrameAsEntries(m2pL2);
        for (int i = 0; i < pool.M2pLargePages; i++)
        {
            l2[i] = pool.M2p.First.Add((ulong)i * 512).Address | guestReadOnly | PageTableFlags.PageSize | PageTableFlags.NoExecute;
        }

        return new HypervisorPages(stub, e, codeL1, zero, m2pL3);
    }
}
