using System.Buffers.Binary;
using XenSharp.Abi;
using XenSharp.Hypervisor.Domains;
using XenSharp.Hypervisor.Grants;
using XenSharp.Hypervisor.Memory;
using XenSharp.Hypervisor.Pv.Mmu;
using XenSharp.Hypervisor.Stub;
using XenSharp.Tests.Builder;
using XenSharp.Tests.Mmu;
using Xunit;
using static XenSharp.Hypervisor.Grants.GrantTableAbi;

namespace XenSharp.Tests.Grants;

/// <summary>
/// What a grant mapping does: the PTE it writes, the references it holds on the granted frame, the entry's status
/// flags (v1 and v2), handles, and everything unmap and unmap_and_replace undo — with the caller's own grants.
/// </summary>
public sealed class GrantMappingTests : IDisposable
{
    private const uint Gref = 8;
    private readonly GrantFixture _f = new();
    private readonly Mfn _l1;
    private readonly Mfn _data;

    public GrantMappingTests()
    {
        _l1 = _f.M.HookFreshL1();
        _data = _f.M.Free(3);
        _f.WriteV1(Gref, GtfPermitAccess, _f.Id, (uint)_data.Value);
    }

    public void Dispose() => _f.Dispose();

    private static ulong Va(int slot) => MmuFixture.HookedVa(slot);

    private FrameInfo Data => _f.M.Frames[_data];

    private ushort V1Flags(uint gref) => BinaryPrimitives.ReadUInt16LittleEndian(_f.ReadV1(gref));

    private byte FlushRequested => _f.M.Pool.Memory.GetSpan(_f.M.D.StubPages.DataMachineAddress(0) + StubLayout.DataFlushTlb, 1)[0];

    private void ClearFlush() => _f.M.Pool.Memory.GetSpan(_f.M.D.StubPages.DataMachineAddress(0) + StubLayout.DataFlushTlb, 1)[0] = 0;

    private void DrainHostWrites()
    {
        Span<ulong> sink = stackalloc ulong[64];
        while (_f.M.D.Mmu.DrainHostWrites(sink) > 0)
        {
        }
    }

    [Fact]
    public void AWritableHostMappingWritesTheGrantPteAndHoldsAWritableReference()
    {
        FrameInfo[] before = _f.M.Snapshot();
        DrainHostWrites();
        (long rc, short status, uint handle, ulong bus) = _f.MapFull(Va(1), GntmapHostMap, Gref, _f.Id);
        Assert.Equal((0L, Okay, 0u, _data.Address), (rc, status, handle, bus));

        // Present, writable, accessed, dirty, no-execute; a kernel mapping (U + _PAGE_GUEST_KERNEL, as adjust_guest_l1e).
        ulong pte = _f.M.Entries(_l1)[1];
        Assert.Equal(_data.Address | MmuFixture.Rw | PageTableFlags.Dirty | PageTableFlags.NoExecute | PageTableFlags.User | PageTableFlags.GuestKernel, pte);
        Assert.Equal(1, _f.M.D.Mmu.PendingHostWrites); // replayed for a shadow-paging KVM
        Assert.Equal((PageType.Writable, 1u, 1u), (Data.Type, Data.TypeCount, Data.RefCount));
        Assert.Equal(GtfPermitAccess | GtfReading | GtfWriting, V1Flags(Gref));
        Assert.Equal((1, 1), (_f.Gt.PinnedEntries, _f.Gt.Maptrack.InUse));

        // The mapping works both ways, and the frame cannot become a page table while it is mapped writable.
        _f.M.Put(Va(1), "through the grant"u8);
        Assert.Equal("through the grant"u8.ToArray(), _f.M.Pool.Frame(_data)[..17].ToArray());
        Assert.Equal(-XenErrno.EINVAL, _f.M.Pin(_data, 1));
        Assert.Equal((0L, GeneralError), _f.Unmap(Va(2), 0, handle)); // not where it was mapped
        Assert.Equal(pte, _f.M.Entries(_l1)[1]);

        ClearFlush();
        Assert.Equal((0L, Okay), _f.Unmap(Va(1), 0, handle));
        Assert.Equal(0UL, _f.M.Entries(_l1)[1]);
        Assert.Equal(1, FlushRequested);
        Assert.Equal(GtfPermitAccess, V1Flags(Gref));
        Assert.Equal((0, 0), (_f.Gt.PinnedEntries, _f.Gt.Maptrack.InUse));
        _f.M.AssertUnchanged(before);
        Assert.Equal((0L, BadHandle), _f.Unmap(Va(1), 0, handle)); // double unmap: nothing more is dropped
        _f.M.AssertUnchanged(before);
        Assert.Equal(0, _f.M.Pin(_data, 1));
        Assert.Equal(0, _f.M.Unpin(_data));
    }

    [Fact]
    public void AReadOnlyMappingHoldsOnlyAGeneralReference()
    {
        FrameInfo[] before = _f.M.Snapshot();
        uint h = _f.MapOk(Va(1), GntmapHostMap | GntmapReadonly, Gref, _f.Id);
        Assert.Equal(0UL, _f.M.Entries(_l1)[1] & PageTableFlags.Writable);
        Assert.Equal((PageType.None, 0u, 1u), (Data.Type, Data.TypeCount, Data.RefCount));
        Assert.Equal(GtfPermitAccess | GtfReading, V1Flags(Gref));

        // Read-only, the frame may still become a page table (and a page table may be mapped read-only).
        Assert.Equal(0, _f.M.Pin(_data, 1));
        Assert.Equal((0L, GeneralError), _f.Map(Va(2), GntmapHostMap, Gref, _f.Id)); // but not mapped writable now
        Assert.Equal(GtfPermitAccess | GtfReading, V1Flags(Gref));
        Assert.Equal(0, _f.M.Unpin(_data));
        Assert.Equal((0L, Okay), _f.Unmap(Va(1), 0, h));
        Assert.Equal(GtfPermitAccess, V1Flags(Gref));
        _f.M.AssertUnchanged(before);
    }

    [Fact]
    public void StatusFlagsFollowThePins()
    {
        uint ro = _f.MapOk(Va(1), GntmapHostMap | GntmapReadonly, Gref, _f.Id);
        uint rw = _f.MapOk(Va(2), GntmapHostMap, Gref, _f.Id);
        uint dev = _f.MapOk(0, GntmapDeviceMap, Gref, _f.Id);
        Assert.Equal(GtfPermitAccess | GtfReading | GtfWriting, V1Flags(Gref));
        Assert.Equal((PageType.Writable, 2u, 3u), (Data.Type, Data.TypeCount, Data.RefCount));
        Assert.Equal((0L, Okay), _f.Unmap(Va(2), 0, rw));
        Assert.Equal(GtfPermitAccess | GtfReading | GtfWriting, V1Flags(Gref)); // the device mapping still writes
        Assert.Equal((0L, Okay), _f.Unmap(0, _data.Address, dev));
        Assert.Equal(GtfPermitAccess | GtfReading, V1Flags(Gref));

        // While pinned the guest may rewrite its entry; a new writable use then needs it writable again.
        _f.WriteV1(Gref, GtfPermitAccess | GtfReadonly | GtfReading, _f.Id, (uint)_data.Value);
        Assert.Equal((0L, GeneralError), _f.Map(Va(2), GntmapHostMap, Gref, _f.Id));
        uint ro2 = _f.MapOk(Va(3), GntmapHostMap | GntmapReadonly, Gref, _f.Id);
        Assert.Equal((0L, Okay), _f.Unmap(Va(1), 0, ro));
        Assert.Equal(GtfPermitAccess | GtfReadonly | GtfReading, V1Flags(Gref));
        Assert.Equal((0L, Okay), _f.Unmap(Va(3), 0, ro2));
        Assert.Equal(GtfPermitAccess | GtfReadonly, V1Flags(Gref));
        Assert.Equal(0, _f.Gt.PinnedEntries);
    }

    [Fact]
    public void VersionTwoKeepsTheStatusInTheStatusFrames()
    {
        Assert.Equal((0L, 2u), _f.SetVersion(2));
        Span<byte> e = _f.V2Entry(Gref);
        BinaryPrimitives.WriteUInt16LittleEndian(e, GtfPermitAccess);
        BinaryPrimitives.WriteUInt16LittleEndian(e[2..], _f.Id);
        BinaryPrimitives.WriteUInt64LittleEndian(e[8..], _data.Value);
        _f.WriteV1(0, 0, 0, 0); // (v1 view of the same bytes: harmless)

        uint rw = _f.MapOk(Va(1), GntmapHostMap, Gref, _f.Id);
        uint ro = _f.MapOk(Va(2), GntmapHostMap | GntmapReadonly, Gref, _f.Id);
        Assert.Equal(GtfPermitAccess, BinaryPrimitives.ReadUInt16LittleEndian(_f.V2Entry(Gref))); // the entry is the guest's
        Assert.Equal(GtfReading | GtfWriting, BinaryPrimitives.ReadUInt16LittleEndian(_f.StatusEntry(Gref)));
        Assert.Equal(-XenErrno.EBUSY, _f.SetVersion(1).Rc); // entries in use
        Assert.Equal((0L, Okay), _f.Unmap(Va(1), 0, rw));
        Assert.Equal(GtfReading, BinaryPrimitives.ReadUInt16LittleEndian(_f.StatusEntry(Gref)));
        Assert.Equal((0L, Okay), _f.Unmap(Va(2), 0, ro));
        Assert.Equal(0, BinaryPrimitives.ReadUInt16LittleEndian(_f.StatusEntry(Gref)));

        // A v2 frame number is 64 bits: one past the pool is a bad page, not a truncated one.
        BinaryPrimitives.WriteUInt64LittleEndian(e[8..], _data.Value | (1UL << 32));
        Assert.Equal((0L, BadPage), _f.Map(Va(1), GntmapHostMap, Gref, _f.Id));
        Assert.Equal(0, BinaryPrimitives.ReadUInt16LittleEndian(_f.StatusEntry(Gref)));
        Assert.Equal((0L, 1u), _f.SetVersion(1));
    }

    [Fact]
    public void ApplicationMappingsAreUserPagesAndAvailableBitsPassThrough()
    {
        uint h = _f.MapOk(Va(1), GntmapHostMap | GntmapApplicationMap | (5u << GntmapGuestAvailShift), Gref, _f.Id);
        ulong pte = _f.M.Entries(_l1)[1];
        Assert.Equal(PageTableFlags.User | PageTableFlags.Global, pte & (PageTableFlags.User | PageTableFlags.Global | PageTableFlags.GuestKernel));
        Assert.Equal(5UL << 9, pte & 0xe00);
        Assert.Equal((0L, Okay), _f.Unmap(Va(1), 0, h));
    }

    [Fact]
    public void ContainsPteNamesTheEntryByMachineAddress()
    {
        FrameInfo[] before = _f.M.Snapshot();
        ulong ptePtr = _l1.Address + (9 * 8);
        uint h = _f.MapOk(ptePtr, GntmapHostMap | GntmapContainsPte, Gref, _f.Id);
        Assert.Equal(_data, PageTableValidator.EntryMfn(_f.M.Entries(_l1)[9]));
        Assert.Equal((0L, GeneralError), _f.UnmapAndReplace(ptePtr, Va(1), h)); // replace needs linear addresses
        Assert.Equal((0L, GeneralError), _f.Unmap(Va(9), 0, h)); // a mapping made by PTE address is unmapped by one
        Assert.Equal((0L, Okay), _f.Unmap(ptePtr, 0, h));
        Assert.Equal(0UL, _f.M.Entries(_l1)[9]);
        _f.M.AssertUnchanged(before);
    }

    [Fact]
    public void TheEntryAGrantDisplacesLosesItsReferences()
    {
        Mfn other = _f.M.Free(4);
        Assert.Equal(0, _f.M.UpdateVaMapping(Va(1), other.Address | MmuFixture.Rw));
        Assert.Equal((PageType.Writable, 1u, 1u), (_f.M.Frames[other].Type, _f.M.Frames[other].TypeCount, _f.M.Frames[other].RefCount));
        uint h = _f.MapOk(Va(1), GntmapHostMap, Gref, _f.Id);
        Assert.Equal((PageType.None, 0u, 0u), (_f.M.Frames[other].Type, _f.M.Frames[other].TypeCount, _f.M.Frames[other].RefCount));
        Assert.Equal((0L, Okay), _f.Unmap(Va(1), 0, h));
    }

    [Fact]
    public void HostAndDeviceMappingsOfOneHandleGoSeparately() // XSA-224
    {
        FrameInfo[] before = _f.M.Snapshot();
        uint h = _f.MapOk(Va(1), GntmapHostMap | GntmapDeviceMap, Gref, _f.Id);
        Assert.Equal((PageType.Writable, 2u, 2u), (Data.Type, Data.TypeCount, Data.RefCount));
        Assert.Equal((0L, Okay), _f.Unmap(Va(1), 0, h));
        Assert.Equal((PageType.Writable, 1u, 1u), (Data.Type, Data.TypeCount, Data.RefCount));
        Assert.Equal((0L, Okay), _f.Unmap(Va(1), 0, h)); // no host mapping left: nothing to do
        Assert.Equal((0L, BadDevAddr), _f.Unmap(0, _data.Address + 4096, h));
        Assert.Equal((0L, Okay), _f.Unmap(0, _data.Address, h));
        Assert.Equal((0L, BadHandle), _f.Unmap(0, _data.Address, h));
        _f.M.AssertUnchanged(before);
        Assert.Equal(0, _f.M.Pin(_data, 1));
    }

    [Fact]
    public void AGrantPteTakenDownOtherwiseDropsItsReferencesOnce()
    {
        FrameInfo[] before = _f.M.Snapshot();
        uint h = _f.MapOk(Va(1), GntmapHostMap, Gref, _f.Id);
        Assert.Equal(0, _f.M.SetEntry(_l1, 1, 0)); // mmu_update over the grant PTE: its references go with it
        _f.M.AssertUnchanged(before);
        Assert.Equal((0L, GeneralError), _f.Unmap(Va(1), 0, h));
        _f.M.AssertUnchanged(before);

        // A PTE made again by hand matches and is taken down with its own references.
        Assert.Equal(0, _f.M.UpdateVaMapping(Va(1), _data.Address | MmuFixture.Rw | PageTableFlags.Dirty));
        Assert.Equal((0L, Okay), _f.Unmap(Va(1), 0, h));
        _f.M.AssertUnchanged(before);
        Assert.Equal(0, _f.Gt.PinnedEntries);
    }

    [Fact]
    public void UnmapAndReplaceMovesTheNewAddressesEntryIntoPlace()
    {
        Mfn other = _f.M.Free(4);
        Assert.Equal(0, _f.M.UpdateVaMapping(Va(2), other.Address | MmuFixture.Rw));
        ulong otherPte = _f.M.Entries(_l1)[2];
        FrameInfo[] before = _f.M.Snapshot();

        uint h = _f.MapOk(Va(1), GntmapHostMap, Gref, _f.Id);
        Assert.Equal((0L, GeneralError), _f.UnmapAndReplace(Va(1), GrantFixture.Unmapped, h)); // nothing maps new_addr
        Assert.Equal((0L, Okay), _f.UnmapAndReplace(Va(1), Va(2), h));
        Assert.Equal(otherPte, _f.M.Entries(_l1)[1]);
        Assert.Equal(0UL, _f.M.Entries(_l1)[2]);
        _f.M.AssertUnchanged(before); // the moved entry kept its references, the grant's are gone

        // Replacing a mapping with its own address steals the grant PTE first: the check then fails, and the stolen
        // entry's references go with it, once.
        h = _f.MapOk(Va(3), GntmapHostMap, Gref, _f.Id);
        Assert.Equal((0L, GeneralError), _f.UnmapAndReplace(Va(3), Va(3), h));
        Assert.Equal(0UL, _f.M.Entries(_l1)[3]);
        _f.M.AssertUnchanged(before);
        _f.M.AssertCountsConsistent();
    }

    [Fact]
    public void HandlesAreReusedOnlyAfterTheRestOfTheirPage()
    {
        uint a = _f.MapOk(0, GntmapDeviceMap, Gref, _f.Id);
        uint b = _f.MapOk(0, GntmapDeviceMap, Gref, _f.Id);
        Assert.Equal((0u, 1u), (a, b));
        Assert.Equal((0L, Okay), _f.Unmap(0, _data.Address, a));
        Assert.Equal(2u, _f.MapOk(0, GntmapDeviceMap, Gref, _f.Id));

        var t = new Maptrack(maxHandles: 3);
        Assert.True(t.TryAllocate(out uint h0));
        Assert.True(t.TryAllocate(out uint h1));
        Assert.True(t.TryAllocate(out uint h2));
        Assert.Equal((0u, 1u, 2u), (h0, h1, h2));
        Assert.False(t.TryAllocate(out _)); // GNTST_no_space
        t.Free(h1);
        Assert.True(t.TryAllocate(out uint again));
        Assert.Equal(h1, again);
        Assert.False(t.TryGet(3, out _));
    }

    [Fact]
    public void PinCountsStopBeforeTheyOverflow()
    {
        var handles = new List<uint>();
        for (int i = 0; i < 128; i++)
        {
            handles.Add(_f.MapOk(0, GntmapDeviceMap | GntmapReadonly, Gref, _f.Id));
        }

        Assert.Equal((0L, GeneralError), _f.Map(0, GntmapDeviceMap | GntmapReadonly, Gref, _f.Id));
        Assert.Equal(Okay, _f.MapFull(0, GntmapDeviceMap, Gref, _f.Id).Status); // another count has room
        Assert.Equal(129u, Data.RefCount);
        foreach (uint h in handles)
        {
            Assert.Equal((0L, Okay), _f.Unmap(0, _data.Address, h));
        }

        Assert.Equal((PageType.Writable, 1u, 1u), (Data.Type, Data.TypeCount, Data.RefCount));
    }

    [Fact]
    public void AMappedFrameCannotBeGivenBack()
    {
        uint h = _f.MapOk(0, GntmapDeviceMap | GntmapReadonly, Gref, _f.Id);
        Assert.Equal(0, _f.M.Reservation(MemoryOp.DecreaseReservation, _data.Value));
        Assert.Equal((0L, Okay), _f.Unmap(0, _data.Address, h));
        Assert.Equal(1, _f.M.Reservation(MemoryOp.DecreaseReservation, _data.Value));
        Assert.Equal((0L, BadPage), _f.Map(0, GntmapDeviceMap | GntmapReadonly, Gref, _f.Id)); // Xen's now
    }

    [Fact]
    public void DestroyingADomainWithLiveMappingsReturnsEveryFrame()
    {
        ulong free = _f.M.Pool.FreeFrames;
        Domain d = _f.M.Hv.CreateDomain("mapper", 1, 512, new CapturingConsole());
        ulong used = free - _f.M.Pool.FreeFrames;
        Assert.True(used > 512);
        _f.M.Hv.Destroy(d);
        Assert.Equal(free, _f.M.Pool.FreeFrames);

        // Our own domain, with a host, a device and a stuck (implicitly unmapped) mapping, goes the same way.
        _f.MapOk(Va(1), GntmapHostMap, Gref, _f.Id);
        _f.MapOk(0, GntmapDeviceMap, Gref, _f.Id);
        _f.MapOk(Va(2), GntmapHostMap | GntmapReadonly, Gref, _f.Id);
        Assert.Equal(0, _f.M.SetEntry(_l1, 2, 0));
        ulong before = _f.M.Pool.FreeFrames;
        _f.M.Hv.Destroy(_f.M.D);
        Assert.Equal(_f.M.Pool.TotalFrames - _f.M.Pool.M2p.Count - _f.M.Hv.Shared.Frames.Count, _f.M.Pool.FreeFrames);
        Assert.True(_f.M.Pool.FreeFrames > before);
    }

    /// <summary>Random requests from a hostile guest: every one answers with a status, and the counts stay exact.</summary>
    [Fact]
    public void RandomRequestsNeverThrowAndLeaveNoTrace()
    {
        Mfn table = _f.M.Free(5);
        _f.WriteV1(9, GtfPermitAccess | GtfReadonly, _f.Id, (uint)_data.Value);
        _f.WriteV1(10, GtfPermitAccess, _f.Id, (uint)table.Value);
        _f.WriteV1(11, GtfPermitAccess, _f.Id, (uint)_l1.Value);
        FrameInfo[] before = _f.M.Snapshot();
        var rng = new Random(1234);
        int maps = 0, unmaps = 0;
        uint[] flagChoices = [GntmapHostMap, GntmapHostMap | GntmapReadonly, GntmapDeviceMap, GntmapHostMap | GntmapDeviceMap,
            GntmapHostMap | GntmapContainsPte, GntmapApplicationMap | GntmapHostMap, 0, uint.MaxValue];
        for (int i = 0; i < 3000; i++)
        {
            ulong addr = rng.Next(4) switch
            {
                0 => Va(rng.Next(12)),
                1 => _l1.Address + (ulong)(rng.Next(12) * 8) + (ulong)(rng.Next(4) == 0 ? 4 : 0),
                2 => _f.M.InitialL2.Address + (ulong)(rng.Next(512) * 8),
                _ => (ulong)rng.NextInt64(),
            };
            switch (rng.Next(5))
            {
                case 0:
                case 1:
                {
                    (long rc, short status, uint h, _) = _f.MapFull(addr, flagChoices[rng.Next(flagChoices.Length)], (uint)(8 + rng.Next(5)), _f.Id);
                    Assert.Equal(0, rc);
                    Assert.True(status != Okay || _f.Gt.Maptrack.TryGet(h, out MaptrackEntry made) && made.InUse);
                    maps += status == Okay ? 1 : 0;
                    break;
                }

                case 2:
                    Assert.Equal(0, _f.M.SetEntry(_l1, rng.Next(12), 0)); // implicit unmaps
                    break;
                case 3:
                {
                    List<(uint Handle, MaptrackEntry Entry)> live = _f.Gt.Maptrack.Live();
                    uint h = rng.Next(3) == 0 || live.Count == 0 ? (uint)rng.Next(300) : live[rng.Next(live.Count)].Handle;
                    (long rc, short status) = rng.Next(2) == 0
                        ? _f.Unmap(rng.Next(2) == 0 ? addr : 0, rng.Next(2) == 0 ? _data.Address : (ulong)rng.NextInt64(), h)
                        : _f.UnmapAndReplace(addr, Va(rng.Next(12)), h);
                    Assert.Equal(0, rc);
                    Assert.InRange(status, NoSpace, Okay);
                    unmaps += status == Okay ? 1 : 0;
                    break;
                }

                default:
                    Assert.Equal(0, _f.M.UpdateVaMapping(Va(rng.Next(12)), rng.Next(2) == 0 ? 0 : _f.M.Free(6 + rng.Next(3)).Address | MmuFixture.Ro));
                    break;
            }

            if (i % 50 == 0)
            {
                _f.M.AssertCountsConsistent();
            }
        }

        Assert.True(maps > 100 && unmaps > 50, $"{maps} maps and {unmaps} unmaps succeeded");

        // Take everything down: entries by hand, then every handle's device and host mappings wherever they are.
        for (int i = 0; i < 12; i++)
        {
            Assert.Equal(0, _f.M.SetEntry(_l1, i, 0));
        }

        foreach ((uint handle, MaptrackEntry e) in _f.Gt.Maptrack.Live())
        {
            if ((e.Flags & GntmapDeviceMap) != 0)
            {
                Mfn frame = _f.Gt.ActiveEntry(e.Ref)!.Frame;
                Assert.Equal((0L, Okay), _f.Unmap(0, frame.Address, handle));
            }
        }

        // Host mappings whose PTE is gone stay pinned (as in Xen, until the domain dies); their references are gone.
        foreach (Mfn m in new[] { _data, table, _l1 })
        {
            FrameInfo now = _f.M.Frames[m], was = before[m.Value];
            Assert.Equal((was.Type, was.TypeCount, was.RefCount), (now.Type, now.TypeCount, now.RefCount));
        }

        _f.M.AssertCountsConsistent();
    }
}
