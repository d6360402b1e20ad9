using XenSharp.Abi;
using XenSharp.Hypervisor.Domains;
using XenSharp.Hypervisor.Memory;
using XenSharp.Hypervisor.Pv.Mmu;
using XenSharp.Tests.Builder;
using Xunit;

namespace XenSharp.Tests.Mmu;

/// <summary>
/// Every way a guest might try to escape its memory, refused with Xen's errno and leaving the frame table exactly as it
/// was. Each case names the Xen behaviour it matches.
/// </summary>
public sealed class IsolationTests : IDisposable
{
    private readonly MmuFixture _f = new();

    public IsolationTests() => SecondL1 = _f.HookFreshL1();

    public void Dispose() => _f.Dispose();

    /// <summary>An empty L1 hooked into the initial tables (every slot free).</summary>
    private Mfn SecondL1 { get; }

    private int FreeL1Slot => 511;

    private ulong VaOfFreeSlot => MmuFixture.HookedVa(FreeL1Slot);

    [Fact]
    public void MappingAnotherDomainsFrameIsEbusy()
    {
        Domain other = TestDomains.Build(_f.Hv);
        Mfn theirs = other.P2m[0x100];
        FrameInfo[] before = _f.Snapshot();

        // Xen's get_page_from_l1e: real owner != page owner → "could not pin" → -EBUSY, read-only or writable alike.
        Assert.Equal(-XenErrno.EBUSY, _f.SetEntry(SecondL1, FreeL1Slot, theirs.Address | MmuFixture.Rw));
        Assert.Equal(-XenErrno.EBUSY, _f.SetEntry(SecondL1, FreeL1Slot, theirs.Address | MmuFixture.Ro));
        Assert.Equal(-XenErrno.EBUSY, _f.UpdateVaMapping(VaOfFreeSlot, theirs.Address | MmuFixture.Ro));

        // Nor by building an L1 that maps it and pinning it (validation fails and is rolled back).
        Mfn l1 = _f.Free(0);
        _f.Entries(l1)[0] = _f.D.P2m[0x101].Address | MmuFixture.Rw; // a legitimate entry first, rolled back too
        _f.Entries(l1)[1] = theirs.Address | MmuFixture.Ro;
        Assert.Equal(-XenErrno.EBUSY, _f.Pin(l1, 1));
        // And as a table: an L2 entry pointing at the other domain's L1 fails get_page_and_type (-EINVAL).
        Assert.Equal(-XenErrno.EINVAL, _f.SetEntry(_f.InitialL2, 100, other.Vcpus[0].KernelL4.Address | MmuFixture.Table));

        _f.AssertUnchanged(before);
        Assert.Equal(0UL, _f.Entries(SecondL1)[FreeL1Slot]);
    }

    [Fact]
    public void MappingOwnPageTableWritableIsEbusy()
    {
        FrameInfo[] before = _f.Snapshot();
        for (ulong i = 0; i < _f.NrPtFrames; i++)
        {
            Mfn table = _f.D.P2m[(_f.PtBase >> 12) + i];
            // Its existing read-only mapping made writable (update_va_mapping on its own VA) ...
            Assert.Equal(-XenErrno.EBUSY, _f.UpdateVaMapping(_f.PtBase + (i * 4096), table.Address | MmuFixture.Rw));
            // ... or a second, writable mapping elsewhere: get_page_type(PGT_writable_page) fails → -EBUSY.
            Assert.Equal(-XenErrno.EBUSY, _f.SetEntry(SecondL1, FreeL1Slot, table.Address | MmuFixture.Rw));
        }

        // And the converse: a frame mapped writable cannot become a page table (get_page_type → -EINVAL).
        Mfn data = _f.D.P2m[0x150];
        Assert.Equal(PageType.Writable, _f.Frames[data].Type);
        Assert.Equal(-XenErrno.EINVAL, _f.Pin(data, 1));
        Assert.Equal(-XenErrno.EINVAL, _f.SetEntry(_f.InitialL2, 100, data.Address | MmuFixture.Table));
        _f.AssertUnchanged(before);
    }

    [Fact]
    public void PinningOrLoadingAForeignOrInvalidL4IsRefused()
    {
        Domain other = TestDomains.Build(_f.Hv);
        Mfn theirL4 = other.Vcpus[0].KernelL4;
        FrameInfo[] before = _f.Snapshot();

        // Not the caller's frame: get_page_from_gfn fails → -EINVAL.
        Assert.Equal(-XenErrno.EINVAL, _f.Pin(theirL4, 4));
        Assert.Equal(-XenErrno.EINVAL, _f.Mmuext(MmuAbi.NewBasePtr, theirL4.Value));
        Assert.Equal(-XenErrno.EINVAL, _f.Mmuext(MmuAbi.NewUserBasePtr, theirL4.Value));
        Assert.Equal(-XenErrno.EINVAL, _f.Mmuext(MmuAbi.NewBasePtr, 1UL << 40));

        // An own frame that does not validate: an entry to another domain's L3.
        Mfn bad = _f.Free(0);
        _f.Entries(bad)[3] = other.P2m[1].Address | MmuFixture.Table;
        Assert.Equal(-XenErrno.EINVAL, _f.Pin(bad, 4));
        Assert.Equal(-XenErrno.EINVAL, _f.Mmuext(MmuAbi.NewBasePtr, bad.Value));
        // An own frame with a writable mapping (the kernel image page) cannot become an L4.
        Assert.Equal(-XenErrno.EINVAL, _f.Mmuext(MmuAbi.NewBasePtr, _f.D.P2m[0x100].Value));
        // Pinning the same table twice: -EINVAL, and the first pin stays.
        Assert.Equal(-XenErrno.EINVAL, _f.Pin(_f.InitialL4, 4));

        _f.AssertUnchanged(before);
        Assert.Equal(_f.InitialL4, _f.V.KernelL4);
        Assert.Equal(other.Vcpus[0].KernelL4, theirL4);
    }

    [Fact]
    public void PointingAPteOutsideTheReservationIsRefused()
    {
        FrameInfo[] before = _f.Snapshot();
        // Beyond the machine: I/O space without permission → -EPERM ("non-privileged attempt to map MMIO space").
        Assert.Equal(-XenErrno.EPERM, _f.SetEntry(SecondL1, FreeL1Slot, (_f.Pool.TotalFrames << 12) | MmuFixture.Ro));
        Assert.Equal(-XenErrno.EPERM, _f.UpdateVaMapping(VaOfFreeSlot, (1UL << 45) | MmuFixture.Rw));
        // INVALID_MFN → -EINVAL.
        Assert.Equal(-XenErrno.EINVAL, _f.UpdateVaMapping(VaOfFreeSlot, PageTableFlags.AddressMask | MmuFixture.Ro));
        // A free frame, the hypervisor's M2P, the stub's frames, the shared zero page: not the domain's → -EBUSY.
        ulong freeFrame = _f.Pool.TotalFrames - 1;
        Assert.Equal(FrameOwner.Free, _f.Frames[new Mfn(freeFrame)].Owner);
        Assert.Equal(-XenErrno.EBUSY, _f.UpdateVaMapping(VaOfFreeSlot, (freeFrame << 12) | MmuFixture.Ro));
        Assert.Equal(-XenErrno.EBUSY, _f.UpdateVaMapping(VaOfFreeSlot, 0 | MmuFixture.Ro));
        Assert.Equal(-XenErrno.EBUSY, _f.UpdateVaMapping(VaOfFreeSlot, _f.D.StubPages.StubL3.Address | MmuFixture.Rw));
        Assert.Equal(-XenErrno.EBUSY, _f.UpdateVaMapping(VaOfFreeSlot, _f.Hv.Shared.ZeroFrame.Address | MmuFixture.Ro));
        // Bad flags: PCD, PWT and PAT need I/O privileges; bit 62 is _PAGE_GNTTAB → "Bad L1 flags" -EINVAL.
        Mfn own = _f.D.P2m[0x150];
        foreach (ulong flag in new[] { PageTableFlags.CacheDisable, PageTableFlags.WriteThrough, PageTableFlags.PageSize, 1UL << 62 })
        {
            Assert.Equal(-XenErrno.EINVAL, _f.UpdateVaMapping(VaOfFreeSlot, own.Address | MmuFixture.Rw | flag));
        }

        // A frame the guest gave back (decrease_reservation) is no longer its own.
        Mfn given = _f.Free(7);
        Assert.Equal(1, _f.Reservation(Abi.MemoryOp.DecreaseReservation, given.Value));
        FrameInfo[] afterBalloon = _f.Snapshot();
        Assert.Equal(-XenErrno.EBUSY, _f.UpdateVaMapping(VaOfFreeSlot, given.Address | MmuFixture.Ro));
        Assert.Equal(-XenErrno.EINVAL, _f.Pin(given, 1));
        _f.AssertUnchanged(afterBalloon);
        Assert.Equal(0UL, _f.Entries(SecondL1)[FreeL1Slot]);

        Assert.Equal(1, _f.Reservation(Abi.MemoryOp.PopulatePhysmap, MmuFixture.FreePfnOf(7)));
        _f.AssertUnchanged(before);
    }

    [Fact]
    public void WritingAnL4HypervisorSlotIsEinval()
    {
        FrameInfo[] before = _f.Snapshot();
        ulong[] slots = _f.Entries(_f.InitialL4).ToArray();
        for (int slot = 256; slot <= 271; slot++)
        {
            // mod_l4_entry: "L4 update in Xen-private area" → -EINVAL, whatever the value (even empty).
            Assert.Equal(-XenErrno.EINVAL, _f.SetEntry(_f.InitialL4, slot, _f.InitialL3.Address | MmuFixture.Table));
            Assert.Equal(-XenErrno.EINVAL, _f.SetEntry(_f.InitialL4, slot, 0));
        }

        Assert.Equal(slots, _f.Entries(_f.InitialL4).ToArray());

        // Whatever a guest puts in those slots of a new L4 is replaced on validation by the hypervisor's entries.
        Mfn l4 = _f.Free(0);
        for (int slot = 256; slot <= 271; slot++)
        {
            _f.Entries(l4)[slot] = _f.D.P2m[0x150].Address | MmuFixture.Table;
        }

        Assert.Equal(0, _f.Pin(l4, 4));
        for (int slot = 256; slot <= 271; slot++)
        {
            Assert.Equal(slots[slot], _f.Entries(l4)[slot]);
        }

        Assert.Equal(PageType.Writable, _f.Frames[_f.D.P2m[0x150]].Type); // no reference was taken for them
        Assert.Equal(0, _f.Unpin(l4));
        _f.AssertUnchanged(before);
    }

    [Fact]
    public void UnpinningATableInUseLeavesItProtected()
    {
        Domain other = TestDomains.Build(_f.Hv);
        FrameInfo[] before = _f.Snapshot();
        // Xen allows unpinning the current base: CR3 keeps its own typed reference, so it stays a validated L4.
        Assert.Equal(0, _f.Unpin(_f.InitialL4));
        Assert.Equal(PageType.L4, _f.Frames[_f.InitialL4].Type);
        Assert.Equal(1u, _f.Frames[_f.InitialL4].TypeCount);
        Assert.Equal(-XenErrno.EBUSY, _f.UpdateVaMapping(_f.PtBase, _f.InitialL4.Address | MmuFixture.Rw));
        // Not pinned (any more): -EINVAL.
        Assert.Equal(-XenErrno.EINVAL, _f.Unpin(_f.InitialL4));
        Assert.Equal(-XenErrno.EINVAL, _f.Unpin(_f.InitialL1));
        Assert.Equal(-XenErrno.EINVAL, _f.Unpin(_f.D.P2m[0x150]));
        Assert.Equal(-XenErrno.EINVAL, _f.Unpin(other.Vcpus[0].KernelL4));
        Assert.True(_f.Hv.Pool.Frames[other.Vcpus[0].KernelL4].Pinned);

        // An L1 pinned and referenced by an L2: unpinning drops only the pin.
        Assert.Equal(0, _f.Pin(_f.InitialL1, 1));
        Assert.Equal(2u, _f.Frames[_f.InitialL1].TypeCount);
        Assert.Equal(0, _f.Unpin(_f.InitialL1));
        Assert.Equal(PageType.L1, _f.Frames[_f.InitialL1].Type);

        Assert.Equal(0, _f.Pin(_f.InitialL4, 4));
        _f.AssertUnchanged(before);
    }

    [Fact]
    public void FreeingAFrameStillMappedOrTypedIsRefused()
    {
        Domain other = TestDomains.Build(_f.Hv);
        FrameInfo[] before = _f.Snapshot();
        ulong current = _f.D.Mmu.CurrentPages;
        // Mapped writable (kernel image), mapped read-only and typed (an L1), pinned and in CR3 (the L4), shared_info:
        // decrease_reservation does none of them and returns 0 extents done.
        foreach (Mfn m in new[] { _f.D.P2m[0x100], _f.InitialL1, _f.InitialL4, _f.D.SharedInfo })
        {
            Assert.Equal(0, _f.Reservation(Abi.MemoryOp.DecreaseReservation, m.Value));
        }

        // Someone else's frame, or one past the machine: nothing.
        Assert.Equal(0, _f.Reservation(Abi.MemoryOp.DecreaseReservation, other.P2m[5].Value));
        Assert.Equal(0, _f.Reservation(Abi.MemoryOp.DecreaseReservation, 1UL << 40));
        // For another domain: nothing.
        Assert.Equal(0, _f.Reservation(Abi.MemoryOp.DecreaseReservation, _f.Free(1).Value, domid: other.Id));

        Assert.Equal(current, _f.D.Mmu.CurrentPages);
        Assert.Equal(_f.D.Id, _f.Frames[_f.D.P2m[0x100]].Owner);
        Assert.Equal(other.Id, _f.Frames[other.P2m[5]].Owner);
        _f.AssertUnchanged(before);
    }

    [Fact]
    public void SuperpageL2EntriesAreEinval()
    {
        FrameInfo[] before = _f.Snapshot();
        Mfn data = _f.Free(0);
        // "Bad L2 flags": PSE is never allowed for a PV guest.
        Assert.Equal(-XenErrno.EINVAL, _f.SetEntry(_f.InitialL2, 100, data.Address | MmuFixture.Table | PageTableFlags.PageSize));
        Assert.Equal(-XenErrno.EINVAL, _f.SetEntry(_f.InitialL3, 100, data.Address | MmuFixture.Table | PageTableFlags.PageSize));
        Assert.Equal(-XenErrno.EINVAL, _f.SetEntry(_f.InitialL2, 100, data.Address | MmuFixture.Table | PageTableFlags.Global));
        // Nor hidden in a table that is then pinned.
        Mfn l2 = _f.Free(1);
        _f.Entries(l2)[7] = data.Address | MmuFixture.Table | PageTableFlags.PageSize;
        Assert.Equal(-XenErrno.EINVAL, _f.Pin(l2, 2));
        Assert.Equal(-XenErrno.EOPNOTSUPP, _f.Mmuext(MmuAbi.MarkSuper, data.Value));
        Assert.Equal(-XenErrno.EOPNOTSUPP, _f.Mmuext(MmuAbi.UnmarkSuper, data.Value));
        _f.AssertUnchanged(before);
    }

    [Fact]
    public void LinearPageTablesOnlyReadOnly()
    {
        FrameInfo[] before = _f.Snapshot();
        // A writable linear entry would give the guest write access to its own tables: -EINVAL.
        Assert.Equal(-XenErrno.EINVAL, _f.SetEntry(_f.InitialL4, 5, _f.InitialL4.Address | MmuFixture.Table));
        Assert.Equal(-XenErrno.EINVAL, _f.SetEntry(_f.InitialL2, 9, _f.InitialL2.Address | MmuFixture.Table));
        // To another validated L4, writable: -EINVAL as well.
        Mfn l4b = _f.Free(0);
        Assert.Equal(0, _f.Pin(l4b, 4));
        FrameInfo[] pinned = _f.Snapshot();
        Assert.Equal(-XenErrno.EINVAL, _f.SetEntry(_f.InitialL4, 5, l4b.Address | MmuFixture.Table));
        _f.AssertUnchanged(pinned);

        // Read-only: allowed — the self-map takes no reference, the other L4 one same-level reference.
        ulong ro = PageTableFlags.Present | PageTableFlags.Accessed | PageTableFlags.User;
        Assert.Equal(0, _f.SetEntry(_f.InitialL4, 5, _f.InitialL4.Address | ro));
        _f.AssertUnchanged(pinned);
        Assert.Equal(0, _f.SetEntry(_f.InitialL4, 6, l4b.Address | ro));
        Assert.Equal(2u, _f.Frames[l4b].TypeCount);
        // A table that holds linear entries may not itself be used linearly (Xen's linear_pt_count rule).
        Assert.Equal(-XenErrno.EINVAL, _f.SetEntry(l4b, 6, _f.InitialL4.Address | ro));
        // Through the read-only self-map, the L4 is readable but not writable.
        ulong self = (5UL << 39) | (5UL << 30) | (5UL << 21) | (5UL << 12);
        Assert.True(_f.V.CopyFromGuest(self, new byte[8]));
        Assert.False(_f.V.CopyToGuest(self, new byte[8]));

        Assert.Equal(0, _f.SetEntry(_f.InitialL4, 5, 0));
        Assert.Equal(0, _f.SetEntry(_f.InitialL4, 6, 0));
        Assert.Equal(0, _f.D.Mmu.Validator.LinearCount(_f.InitialL4));
        Assert.Equal(0, _f.D.Mmu.Validator.LinearCount(l4b));
        Assert.Equal(0, _f.Unpin(l4b));
        _f.AssertUnchanged(before);
    }

    [Fact]
    public void ForeignDomainArgumentsAreRefused()
    {
        Domain other = TestDomains.Build(_f.Hv);
        FrameInfo[] before = _f.Snapshot();
        ulong ptr = SecondL1.Address + ((ulong)FreeL1Slot * 8);
        ulong val = _f.D.P2m[0x150].Address | MmuFixture.Ro;
        // get_pg_owner: the caller's own id is refused (-ESRCH), another domain needs privilege (-EPERM), an unknown one -ESRCH.
        Assert.Equal((-XenErrno.ESRCH, 0u), _f.MmuUpdate(_f.D.Id, (ptr, val)));
        Assert.Equal((-XenErrno.EPERM, 0u), _f.MmuUpdate(other.Id, (ptr, val)));
        Assert.Equal((-XenErrno.EPERM, 0u), _f.MmuUpdate(MmuAbi.DomidIo, (ptr, val)));
        Assert.Equal((-XenErrno.ESRCH, 0u), _f.MmuUpdate(0x1234, (ptr, val)));
        Assert.Equal(-XenErrno.EPERM, _f.MmuextBatch(other.Id, (MmuAbi.TlbFlushLocal, 0, 0)).Rc);
        Assert.Equal(-XenErrno.EPERM, _f.Call(HypercallNumber.UpdateVaMappingOtherdomain, VaOfFreeSlot, val, 0, other.Id));
        Assert.Equal(-XenErrno.ESRCH, _f.Call(HypercallNumber.UpdateVaMappingOtherdomain, VaOfFreeSlot, val, 0, _f.D.Id));
        // Page tables of another domain (PFD, bits 16–31 = domid + 1): -EPERM.
        Assert.Equal((-XenErrno.EPERM, 0u), _f.MmuUpdate(((uint)other.Id + 1) << 16 | MmuAbi.DomidSelf, (ptr, val)));
        _f.AssertUnchanged(before);

        // DOMID_SELF (and PFD naming the caller) is the ordinary case.
        Assert.Equal((0L, 1u), _f.MmuUpdate(((uint)_f.D.Id + 1) << 16 | MmuAbi.DomidSelf, (ptr, val)));
        Assert.Equal(0, _f.Call(HypercallNumber.UpdateVaMappingOtherdomain, VaOfFreeSlot, 0, 0, MmuAbi.DomidSelf));
        _f.AssertUnchanged(before);
    }
}
