using System.Buffers.Binary;
using XenSharp.Abi;
using XenSharp.Hypervisor;
using XenSharp.Hypervisor.Domains;
using XenSharp.Hypervisor.Hypercalls;
using XenSharp.Hypervisor.Memory;
using XenSharp.Hypervisor.Pv.Mmu;
using XenSharp.Hypervisor.Stub;
using XenSharp.Tests.Builder;
using Xunit;

namespace XenSharp.Tests.Mmu;

/// <summary>
/// A domain built on heap memory (no KVM) plus helpers to issue the MMU hypercalls the way a guest does: arguments
/// placed in guest memory through its own page tables, results read back from there.
/// </summary>
internal sealed class MmuFixture : IDisposable
{
    /// <summary>Guest VAs inside the initial (writable) mapping for hypercall arguments, past the kernel's boot data.</summary>
    public const ulong Args = 0x200000;
    public const ulong Done = 0x201000;
    public const ulong Aux = 0x202000;

    /// <summary>The first pfn well past the initial 4 MiB mapping: unmapped, untyped frames the tests build tables in.</summary>
    public const ulong FreePfn = 2048;

    public const ulong Rw = PageTableFlags.Present | PageTableFlags.Writable | PageTableFlags.Accessed;
    public const ulong Ro = PageTableFlags.Present | PageTableFlags.Accessed;
    public const ulong Table = Rw | PageTableFlags.Dirty | PageTableFlags.User;

    public MmuFixture(int memoryMiB = 16)
    {
        Hv = TestDomains.Hypervisor(Log);
        D = TestDomains.Build(Hv, memoryMiB);
        V = D.Vcpus[0];
        var si = new byte[StartInfoLayout.Size];
        Assert.True(V.CopyFromGuest(V.FrameGet(StubFrame.Rsi), si));
        PtBase = BinaryPrimitives.ReadUInt64LittleEndian(si.AsSpan(StartInfoLayout.PtBase));
        NrPtFrames = BinaryPrimitives.ReadUInt64LittleEndian(si.AsSpan(StartInfoLayout.NrPtFrames));
    }

    public StringWriter Log { get; } = new();

    public XenHypervisor Hv { get; }

    public Domain D { get; }

    public Vcpu V { get; }

    public MachinePool Pool => Hv.Pool;

    public FrameTable Frames => Hv.Pool.Frames;

    /// <summary>VA of the initial L4 (start_info.pt_base); the L3, L2 and L1s follow it.</summary>
    public ulong PtBase { get; }

    public ulong NrPtFrames { get; }

    public Mfn InitialL4 => D.P2m[PtBase >> 12];

    public Mfn InitialL3 => D.P2m[(PtBase >> 12) + 1];

    public Mfn InitialL2 => D.P2m[(PtBase >> 12) + 2];

    public Mfn InitialL1 => D.P2m[(PtBase >> 12) + 3];

    /// <summary>L2 slot (of the initial L2, VA 200 MiB) where <see cref="HookFreshL1"/> hooks an empty L1.</summary>
    public const int HookL2Slot = 100;

    /// <summary>Hooks an empty L1 (free frame 20) into the initial L2 so tests have free L1 slots with known VAs.</summary>
    public Mfn HookFreshL1()
    {
        Mfn l1 = Free(20);
        Entries(l1).Clear();
        Assert.Equal(0, SetEntry(InitialL2, HookL2Slot, l1.Address | Table));
        return l1;
    }

    public static ulong HookedVa(int slot) => ((ulong)HookL2Slot << 21) | ((ulong)slot << 12);

    /// <summary>A free (unmapped, untyped) frame of the domain.</summary>
    public Mfn Free(int k) => D.P2m[FreePfn + (ulong)k];

    public static ulong FreePfnOf(int k) => FreePfn + (ulong)k;

    public Span<ulong> Entries(Mfn mfn) => Pool.FrameAsEntries(mfn);

    public void Dispose() => Hv.Dispose();

    public long Call(int nr, ulong a1 = 0, ulong a2 = 0, ulong a3 = 0, ulong a4 = 0, ulong a5 = 0) =>
        (long)HypercallDispatcher.Dispatch(V, (ulong)nr, a1, a2, a3, a4, a5);

    public void Put(ulong va, ReadOnlySpan<byte> bytes) => Assert.True(V.CopyToGuest(va, bytes));

    public byte[] Get(ulong va, int n)
    {
        var b = new byte[n];
        Assert.True(V.CopyFromGuest(va, b));
        return b;
    }

    /// <summary>mmu_update with the given requests; returns the result and *pdone.</summary>
    public (long Rc, uint Done) MmuUpdate(uint foreigndom, params (ulong Ptr, ulong Val)[] reqs)
    {
        var b = new byte[16 * reqs.Length];
        for (int i = 0; i < reqs.Length; i++)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(16 * i), reqs[i].Ptr);
            BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan((16 * i) + 8), reqs[i].Val);
        }

        Put(Args, b);
        Put(Done, new byte[4] { 0xee, 0xee, 0xee, 0xee });
        long rc = Call(HypercallNumber.MmuUpdate, Args, (ulong)reqs.Length, Done, foreigndom);
        return (rc, BinaryPrimitives.ReadUInt32LittleEndian(Get(Done, 4)));
    }

    public long MmuUpdate(params (ulong Ptr, ulong Val)[] reqs) => MmuUpdate(MmuAbi.DomidSelf, reqs).Rc;

    /// <summary>Sets entry <paramref name="index"/> of table <paramref name="table"/> through mmu_update.</summary>
    public long SetEntry(Mfn table, int index, ulong value) => MmuUpdate((table.Address + ((ulong)index * 8), value));

    public (long Rc, uint Done) MmuextBatch(ushort foreigndom, params (uint Cmd, ulong Arg1, ulong Arg2)[] ops)
    {
        var b = new byte[24 * ops.Length];
        for (int i = 0; i < ops.Length; i++)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(24 * i), ops[i].Cmd);
            BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan((24 * i) + 8), ops[i].Arg1);
            BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan((24 * i) + 16), ops[i].Arg2);
        }

        Put(Args, b);
        Put(Done, new byte[4] { 0xee, 0xee, 0xee, 0xee });
        long rc = Call(HypercallNumber.MmuextOp, Args, (ulong)ops.Length, Done, foreigndom);
        return (rc, BinaryPrimitives.ReadUInt32LittleEndian(Get(Done, 4)));
    }

    public long Mmuext(uint cmd, ulong arg1 = 0, ulong arg2 = 0) => MmuextBatch(MmuAbi.DomidSelf, (cmd, arg1, arg2)).Rc;

    public long Pin(Mfn mfn, int level) => Mmuext(MmuAbi.PinL1Table + (uint)(level - 1), mfn.Value);

    public long Unpin(Mfn mfn) => Mmuext(MmuAbi.UnpinTable, mfn.Value);

    public long UpdateVaMapping(ulong va, ulong value, ulong flags = MmuAbi.UvmfInvlpg) =>
        Call(HypercallNumber.UpdateVaMapping, va, value, flags);

    /// <summary>memory_op reservation call through MemoryReservationOps with a one-extent list at <see cref="Aux"/>.</summary>
    public long Reservation(int op, ulong extent, int order = 0, ushort domid = MmuAbi.DomidSelf)
    {
        var list = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(list, extent);
        Put(Aux, list);
        var r = new byte[32];
        BinaryPrimitives.WriteUInt64LittleEndian(r, Aux);
        BinaryPrimitives.WriteUInt64LittleEndian(r.AsSpan(8), 1);
        BinaryPrimitives.WriteUInt32LittleEndian(r.AsSpan(16), (uint)order);
        BinaryPrimitives.WriteUInt16LittleEndian(r.AsSpan(24), domid);
        Put(Args, r);
        return MemoryReservationOps.Handle(V, (ulong)op, Args);
    }

    public ulong ReservationResult => BinaryPrimitives.ReadUInt64LittleEndian(Get(Aux, 8));

    /// <summary>The whole frame table, to compare before and after.</summary>
    public FrameInfo[] Snapshot()
    {
        var s = new FrameInfo[Frames.FrameCount];
        for (ulong i = 0; i < Frames.FrameCount; i++)
        {
            s[i] = Frames[new Mfn(i)];
        }

        return s;
    }

    public void AssertUnchanged(FrameInfo[] before)
    {
        for (ulong i = 0; i < (ulong)before.Length; i++)
        {
            FrameInfo now = Frames[new Mfn(i)];
            if (!now.Equals(before[i]))
            {
                Assert.Fail($"mfn {i:x}: was owner {before[i].Owner:x} {before[i].Type} x{before[i].TypeCount} ref {before[i].RefCount} pinned {before[i].Pinned}, "
                    + $"now owner {now.Owner:x} {now.Type} x{now.TypeCount} ref {now.RefCount} pinned {now.Pinned}");
            }
        }
    }

    /// <summary>Asserts every frame's type count is within its reference count (the validator's first invariant).</summary>
    public void AssertCountsConsistent()
    {
        for (ulong i = 0; i < Frames.FrameCount; i++)
        {
            FrameInfo f = Frames[new Mfn(i)];
            Assert.True(f.TypeCount <= f.RefCount, $"mfn {i:x}: type count {f.TypeCount} > ref count {f.RefCount}");
            Assert.True(f.TypeCount != 0 || f.Type == PageType.None, $"mfn {i:x}: type {f.Type} with no type count");
        }
    }
}
