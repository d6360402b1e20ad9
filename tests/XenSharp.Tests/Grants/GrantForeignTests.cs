using System.Buffers.Binary;
using XenSharp.Abi;
using XenSharp.Hypervisor.Domains;
using XenSharp.Hypervisor.Memory;
using XenSharp.Hypervisor.Pv.Mmu;
using XenSharp.Tests.Builder;
using XenSharp.Tests.Mmu;
using Xunit;
using static XenSharp.Hypervisor.Grants.GrantTableAbi;

namespace XenSharp.Tests.Grants;

/// <summary>
/// Mapping another domain's grants: the mapping, not the PTE, holds the references on the granter's frame; the frame
/// is added to the mapper's machine while host-mapped; and either domain may be destroyed first.
/// </summary>
public sealed class GrantForeignTests : IDisposable
{
    private const uint Gref = 8;
    private readonly GrantFixture _f = new();
    private readonly Mfn _l1;
    private readonly Domain _granter;
    private readonly Mfn _frame;
    private readonly ulong _freeWithoutGranter;

    public GrantForeignTests()
    {
        _l1 = _f.M.HookFreshL1();
        _freeWithoutGranter = _f.M.Pool.FreeFrames;
        _granter = _f.M.Hv.CreateDomain("granter", 1, 512, new CapturingConsole());
        _frame = _granter.P2m[5];
        Grant(Gref, GtfPermitAccess, _f.Id, _frame);
    }

    public void Dispose() => _f.Dispose();

    private static ulong Va(int slot) => MmuFixture.HookedVa(slot);

    private FrameInfo Frame => _f.M.Frames[_frame];

    private Span<byte> Entry(uint gref) => _f.M.Pool.Memory.GetSpan(_granter.Grants.SharedFrame(0).Address + (gref * 8), 8);

    private void Grant(uint gref, ushort flags, ushort domid, Mfn frame)
    {
        Span<byte> e = Entry(gref);
        BinaryPrimitives.WriteUInt16LittleEndian(e[2..], domid);
        BinaryPrimitives.WriteUInt32LittleEndian(e[4..], (uint)frame.Value);
        BinaryPrimitives.WriteUInt16LittleEndian(e, flags);
    }

    private ushort Flags(uint gref) => BinaryPrimitives.ReadUInt16LittleEndian(Entry(gref));

    [Fact]
    public void TheMappingHoldsTheGrantersFrameAndPutsItInTheMappersMachine()
    {
        FrameInfo[] before = _f.M.Snapshot();
        (long rc, short status, uint h, ulong bus) = _f.MapFull(Va(1), GntmapHostMap, Gref, _granter.Id);
        Assert.Equal((0L, Okay, _frame.Address), (rc, status, bus));
        Assert.Equal(_frame, PageTableValidator.EntryMfn(_f.M.Entries(_l1)[1]));
        Assert.Equal((PageType.Writable, 1u, 1u, 1u), (Frame.Type, Frame.TypeCount, Frame.RefCount, Frame.ForeignRefs));
        Assert.Equal(1, _f.M.D.ForeignFrames.Count(_frame));
        Assert.Equal(GtfPermitAccess | GtfReading | GtfWriting, Flags(Gref));

        // The granter can neither retype nor give back a frame another domain maps writable.
        Assert.Equal(-XenErrno.EINVAL, _granter.Mmu.Pin(_frame, PageType.L1));
        Assert.Equal(-XenErrno.EBUSY, _granter.Mmu.RemovePage(_frame));
        // Nor can the mapper make its own PTE to it, or use the grant PTE as a model.
        Assert.Equal(-XenErrno.EBUSY, _f.M.SetEntry(_l1, 2, _f.M.Entries(_l1)[1] & ~PageTableFlags.Writable));

        // A second mapping of the same grant by the same domain shares the frame in the machine.
        uint h2 = _f.MapOk(Va(2), GntmapHostMap | GntmapReadonly, Gref, _granter.Id);
        uint dev = _f.MapOk(0, GntmapDeviceMap, Gref, _granter.Id);
        Assert.Equal((2u, 3u, 3u), (Frame.TypeCount, Frame.RefCount, Frame.ForeignRefs));
        Assert.Equal(2, _f.M.D.ForeignFrames.Count(_frame)); // device mappings need no machine memory

        // Overwriting the PTE does not drop the mapping's references (only its handle can), so it stays stuck.
        Assert.Equal(0, _f.M.SetEntry(_l1, 1, 0));
        Assert.Equal((2u, 3u, 3u), (Frame.TypeCount, Frame.RefCount, Frame.ForeignRefs));
        Assert.Equal((0L, GeneralError), _f.Unmap(Va(1), 0, h));
        Assert.Equal(2, _f.M.D.ForeignFrames.Count(_frame));

        Assert.Equal((0L, Okay), _f.Unmap(Va(2), 0, h2));
        Assert.Equal((0L, Okay), _f.Unmap(0, _frame.Address, dev));
        Assert.Equal((PageType.Writable, 1u, 1u, 1u), (Frame.Type, Frame.TypeCount, Frame.RefCount, Frame.ForeignRefs));
        Assert.Equal(1, _f.M.D.ForeignFrames.Count(_frame));
        Assert.Equal(GtfPermitAccess | GtfReading | GtfWriting, Flags(Gref));

        // The stuck mapping's L1 entry can be rebuilt only by another mapping; unmapping through it releases the handle
        // it is unmapped with, once.
        uint h3 = _f.MapOk(Va(1), GntmapHostMap, Gref, _granter.Id);
        Assert.Equal((0L, Okay), _f.Unmap(Va(1), 0, h));
        Assert.Equal((0L, GeneralError), _f.Unmap(Va(1), 0, h3));
        Assert.Equal((1u, 1u, 1u), (Frame.TypeCount, Frame.RefCount, Frame.ForeignRefs));
        Assert.Equal(1, _f.M.D.ForeignFrames.Count(_frame));
        _f.M.AssertCountsConsistent();
    }

    private sealed class FakeMachine : IForeignFrameMachine
    {
        public List<string> Calls { get; } = new();

        public bool Refuse { get; set; }

        public bool TryAddFrame(Mfn mfn)
        {
            Calls.Add($"add {mfn.Value:x}{(Refuse ? " refused" : "")}");
            return !Refuse;
        }

        public void RemoveFrame(Mfn mfn) => Calls.Add($"remove {mfn.Value:x}");
    }

    [Fact]
    public void TheFrameIsInTheMappersMachineExactlyWhileHostMapped()
    {
        var machine = new FakeMachine();
        _f.M.D.ForeignFrames.Attach(machine);
        string add = $"add {_frame.Value:x}", remove = $"remove {_frame.Value:x}";
        uint a = _f.MapOk(Va(1), GntmapHostMap, Gref, _granter.Id);
        uint b = _f.MapOk(Va(2), GntmapHostMap | GntmapReadonly, Gref, _granter.Id);
        uint dev = _f.MapOk(0, GntmapDeviceMap, Gref, _granter.Id);
        Assert.Equal([add], machine.Calls);
        Assert.Equal((0L, Okay), _f.Unmap(Va(1), 0, a));
        Assert.Equal((0L, Okay), _f.Unmap(0, _frame.Address, dev));
        Assert.Equal([add], machine.Calls);
        Assert.Equal((0L, Okay), _f.Unmap(Va(2), 0, b));
        Assert.Equal([add, remove], machine.Calls);
        Assert.Equal(0, _f.M.D.ForeignFrames.Frames);

        // A machine that cannot take the frame (no memory slot left): the map fails and changes nothing.
        FrameInfo[] before = _f.M.Snapshot();
        machine.Refuse = true;
        Assert.Equal((0L, GeneralError), _f.Map(Va(1), GntmapHostMap, Gref, _granter.Id));
        Assert.Equal(Okay, _f.MapFull(0, GntmapDeviceMap | GntmapReadonly, Gref, _granter.Id).Status); // needs no memory
        Assert.Equal([add, remove, add + " refused"], machine.Calls);
        Assert.Equal(0UL, _f.M.Entries(_l1)[1]);
        Assert.Equal(GtfPermitAccess | GtfReading, Flags(Gref));
        Assert.Equal(before[_frame.Value].RefCount + 1, Frame.RefCount);

        // The mapper's teardown detaches the machine first and gives everything back.
        _f.M.Hv.Destroy(_f.M.D);
        Assert.Equal([add, remove, add + " refused"], machine.Calls);
        Assert.Equal(before[_frame.Value], Frame);
        Assert.Equal(GtfPermitAccess, Flags(Gref));
    }

    [Fact]
    public void AnL1HoldingAForeignGrantPteLosesNothingAndCannotBeValidatedAgain()
    {
        Mfn l1 = _f.M.Free(6);
        _f.M.Entries(l1).Clear();
        Assert.Equal(0, _f.M.Pin(l1, 1));
        uint h = _f.MapOk(l1.Address + 8, GntmapHostMap | GntmapContainsPte, Gref, _granter.Id);
        FrameInfo mapped = Frame;
        Assert.Equal(0, _f.M.Unpin(l1)); // devalidated: the grant PTE's references are the handle's, not the L1's
        Assert.Equal(mapped, Frame);
        Assert.Equal(-XenErrno.EBUSY, _f.M.Pin(l1, 1)); // an entry to a frame we do not own
        Assert.Equal((0L, GeneralError), _f.Unmap(l1.Address + 8, 0, h)); // no longer an L1
        Assert.Equal(mapped, Frame);
        _f.M.AssertCountsConsistent();
    }

    [Fact]
    public void OnlyTheDomainNamedInTheEntryMaps()
    {
        Grant(9, GtfPermitAccess, (ushort)(_f.Id + 7), _frame);
        Assert.Equal((0L, GeneralError), _f.Map(Va(1), GntmapHostMap, 9, _granter.Id));
        Grant(9, GtfPermitAccess, _f.Id, _f.M.Free(3)); // the mapper's own frame: not the granter's page
        Assert.Equal((0L, BadPage), _f.Map(Va(1), GntmapHostMap, 9, _granter.Id));
        Grant(9, GtfPermitAccess, _f.Id, _granter.P2m[1]);
        Assert.Equal(Okay, _f.MapFull(Va(1), GntmapHostMap | GntmapReadonly, 9, _granter.Id).Status);
        Assert.Equal(0, _f.M.D.ForeignFrames.Count(_frame));
    }

    [Fact]
    public void AGranterDestroyedWhileMappedLeavesTheFrameToTheMapperUntilTheUnmap()
    {
        "from the granter"u8.CopyTo(_f.M.Pool.Frame(_frame));
        uint h = _f.MapOk(Va(1), GntmapHostMap, Gref, _granter.Id);
        uint dev = _f.MapOk(0, GntmapDeviceMap | GntmapReadonly, Gref, _granter.Id);
        _f.M.Hv.Destroy(_granter);

        Assert.Equal(1UL, _f.M.Pool.OrphanedFrames);
        Assert.Equal(_freeWithoutGranter - 1, _f.M.Pool.FreeFrames);
        Assert.Equal(FrameOwner.Orphaned, Frame.Owner);
        Assert.Equal("from the granter"u8.ToArray(), _f.M.Pool.Frame(_frame)[..16].ToArray()); // kept for the mapper
        Assert.Equal((0L, BadDomain), _f.Map(Va(2), GntmapHostMap, Gref, _granter.Id));

        Assert.Equal((0L, Okay), _f.Unmap(Va(1), 0, h));
        Assert.Equal(0, _f.M.D.ForeignFrames.Count(_frame));
        Assert.Equal(1UL, _f.M.Pool.OrphanedFrames); // the device mapping still holds it
        Assert.Equal((0L, Okay), _f.Unmap(0, _frame.Address, dev));
        Assert.Equal(0UL, _f.M.Pool.OrphanedFrames);
        Assert.Equal(_freeWithoutGranter, _f.M.Pool.FreeFrames);
        Assert.True(_f.M.Pool.Frame(_frame).IndexOfAnyExcept((byte)0) < 0); // freed frames read as zero
    }

    [Fact]
    public void AMapperDestroyedWithMappingsGivesEverythingBack()
    {
        FrameInfo before = Frame;
        _f.MapOk(Va(1), GntmapHostMap, Gref, _granter.Id);
        _f.MapOk(Va(2), GntmapHostMap | GntmapReadonly, Gref, _granter.Id);
        _f.MapOk(0, GntmapDeviceMap, Gref, _granter.Id);
        Assert.Equal(0, _f.M.SetEntry(_l1, 2, 0)); // one of them stuck
        _f.M.Hv.Destroy(_f.M.D);

        Assert.Equal(before, Frame);
        Assert.Equal(GtfPermitAccess, Flags(Gref));
        Assert.Equal(0, _granter.Grants.PinnedEntries);
        Assert.Equal(0, _granter.Mmu.Pin(_frame, PageType.L1));
        Assert.Equal(0, _granter.Mmu.Unpin(_frame));
    }
}
