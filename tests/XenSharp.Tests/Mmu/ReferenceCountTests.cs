using XenSharp.Abi;
using XenSharp.Hypervisor.Memory;
using XenSharp.Hypervisor.Pv.Mmu;
using Xunit;

namespace XenSharp.Tests.Mmu;

/// <summary>Reference counts stay exact: the builder's tables validate to the hand count, and any sequence torn down returns every count to its start.</summary>
public sealed class ReferenceCountTests : IDisposable
{
    private readonly MmuFixture _f = new();

    public void Dispose() => _f.Dispose();

    [Fact]
    public void InitialTablesValidateToTheHandAccounting()
    {
        ulong firstTable = _f.PtBase >> 12;
        ulong lastTable = firstTable + _f.NrPtFrames;
        // Every frame the initial mapping covers is mapped once: tables read-only, everything else writable.
        ulong mapped = 0;
        while (mapped < _f.D.NrPages && _f.V.CopyFromGuest(mapped << 12, new byte[1]))
        {
            mapped++;
        }

        Assert.True(mapped >= lastTable);
        for (ulong pfn = 0; pfn < _f.D.NrPages; pfn++)
        {
            FrameInfo f = _f.Frames[_f.D.P2m[pfn]];
            bool isTable = pfn >= firstTable && pfn < lastTable;
            (PageType type, uint typeCount, uint refs, bool pinned) expected =
                pfn == firstTable ? (PageType.L4, 2u, 3u, true)            // pin + CR3, and its read-only mapping
                : isTable ? (TableType(pfn - firstTable), 1u, 2u, false)  // its parent's entry, and its read-only mapping
                : pfn < mapped ? (PageType.Writable, 1u, 1u, false)       // its writable mapping
                : (PageType.None, 0u, 0u, false);
            Assert.Equal(expected, (f.Type, f.TypeCount, f.RefCount, f.Pinned));
        }

        // The entries were adjusted as Xen does: guest-kernel L1 entries gain U and bit 52; L2–L4 entries U; L4 also A.
        ulong kernelPte = _f.Entries(_f.InitialL1)[0x100];
        Assert.Equal(PageTableFlags.Present | PageTableFlags.Writable | PageTableFlags.Accessed | PageTableFlags.User | PageTableFlags.GuestKernel,
            kernelPte & ~PageTableFlags.AddressMask);
        Mfn coveringL1 = _f.D.P2m[firstTable + 3 + (firstTable >> 9)];
        ulong tablePte = _f.Entries(coveringL1)[(int)(firstTable & 511)];
        Assert.Equal(_f.InitialL4, PageTableValidator.EntryMfn(tablePte));
        Assert.Equal(0UL, tablePte & PageTableFlags.Writable);
        Assert.Equal(_f.InitialL3.Address | MmuFixture.Table, _f.Entries(_f.InitialL4)[0]);
        Assert.NotEqual(0UL, _f.Entries(_f.InitialL4)[256]);
        _f.AssertCountsConsistent();
    }

    private PageType TableType(ulong index) => index switch
    {
        0 => PageType.L4,
        1 => PageType.L3,
        2 => PageType.L2,
        _ => PageType.L1,
    };

    /// <summary>
    /// 2000 address spaces built from the domain's own free frames, pinned, loaded, edited through every path, switched
    /// away from and unpinned: afterwards every frame's owner, type, counts and pin are exactly as before.
    /// </summary>
    [Fact]
    public void TwoThousandAddressSpacesLeaveNoTrace()
    {
        FrameInfo[] before = _f.Snapshot();
        ulong sharedKernelL4e = _f.Entries(_f.InitialL4)[0];
        for (int i = 0; i < 2000; i++)
        {
            // Frames: L4, L3, L2, two L1s, four data pages, reused every round (they are untyped again after each).
            Mfn l4 = _f.Free(0), l3 = _f.Free(1), l2 = _f.Free(2), l1a = _f.Free(3), l1b = _f.Free(4);
            Mfn[] data = [_f.Free(5), _f.Free(6), _f.Free(7), _f.Free(8)];
            if (i % 2 == 0)
            {
                foreach (Mfn m in new[] { l4, l3, l2, l1a, l1b })
                {
                    Assert.Equal(0, _f.Mmuext(MmuAbi.ClearPage, m.Value));
                }
            }
            else
            {
                foreach (Mfn m in new[] { l4, l3, l2, l1a, l1b })
                {
                    _f.Entries(m).Clear();
                }
            }

            // The guest writes its new tables while they are still ordinary pages.
            _f.Entries(l4)[0] = sharedKernelL4e;                       // share the kernel's L3, as Linux does
            _f.Entries(l4)[1] = l3.Address | MmuFixture.Table;
            _f.Entries(l3)[i % 512] = l2.Address | MmuFixture.Table;
            _f.Entries(l2)[0] = l1a.Address | MmuFixture.Table;
            _f.Entries(l2)[1] = l1b.Address | MmuFixture.Table;
            _f.Entries(l1a)[0] = data[0].Address | MmuFixture.Rw;
            _f.Entries(l1a)[1] = data[1].Address | MmuFixture.Rw | PageTableFlags.User;
            _f.Entries(l1a)[2] = l1a.Address | MmuFixture.Ro;            // its own table, read-only
            _f.Entries(l1a)[3] = data[0].Address | MmuFixture.Ro;        // a second mapping of a page
            _f.Entries(l1b)[5] = l4.Address | MmuFixture.Ro;
            if (i % 3 == 0)
            {
                _f.Entries(l4)[2] = l4.Address | PageTableFlags.Present | PageTableFlags.Accessed; // read-only self-map
            }

            if (i % 4 == 1)
            {
                Assert.Equal(0, _f.Pin(l1a, 1)); // pin lower levels first sometimes, as Linux does
            }

            Assert.Equal(0, _f.Pin(l4, 4));
            Assert.Equal(0, _f.Mmuext(MmuAbi.NewBasePtr, l4.Value));
            Assert.Equal(l4, _f.V.KernelL4);

            ulong va = (1UL << 39) | ((ulong)(i % 512) << 30);
            Assert.True(_f.V.CopyToGuest(va + 0x1008, [1, 2, 3]));   // data[1] through the new tables
            // Edits through each path: mmu_update on L1 and L2, update_va_mapping, a multicall, user base pointer.
            Assert.Equal(0, _f.SetEntry(l1a, 7, data[2].Address | MmuFixture.Rw));
            Assert.Equal(0, _f.SetEntry(l1a, 0, data[3].Address | MmuFixture.Ro));
            Assert.Equal(0, _f.UpdateVaMapping(va + (9 << 12), data[2].Address | MmuFixture.Ro, MmuAbi.UvmfTlbFlush | MmuAbi.UvmfAll));
            Assert.Equal(0, _f.UpdateVaMapping(va + (1 << 12), 0));
            Assert.Equal(0, _f.SetEntry(l2, 3, l1a.Address | MmuFixture.Table)); // the same L1 twice
            Assert.Equal(0, _f.SetEntry(l2, 1, 0));                                // unhook l1b (its refs go)
            if (i % 5 == 0)
            {
                Assert.Equal(0, _f.Mmuext(MmuAbi.NewUserBasePtr, l4.Value));
                Assert.Equal(0, _f.Mmuext(MmuAbi.NewUserBasePtr, 0));
            }

            if (i % 100 == 0)
            {
                // Give a data page back and take it again.
                Assert.Equal(1, _f.Reservation(Abi.MemoryOp.DecreaseReservation, _f.Free(9).Value));
                Assert.Equal(1, _f.Reservation(Abi.MemoryOp.PopulatePhysmap, MmuFixture.FreePfnOf(9)));
                Assert.Equal(_f.Free(9).Value, _f.ReservationResult);
            }

            // Back to the original tables; drop the pins.
            Assert.Equal(0, _f.Mmuext(MmuAbi.NewBasePtr, _f.InitialL4.Value));
            if (i % 4 == 1)
            {
                Assert.Equal(0, _f.Unpin(l1a));
            }

            Assert.Equal(0, _f.Unpin(l4));
            foreach (Mfn m in new[] { l4, l3, l2, l1a, l1b, data[0], data[1], data[2], data[3] })
            {
                Assert.Equal(PageType.None, _f.Frames[m].Type);
            }
        }

        _f.AssertUnchanged(before);
        _f.AssertCountsConsistent();
        Assert.Equal(0, _f.D.Mmu.Validator.LinearCount(_f.Free(0)));
    }

    [Fact]
    public void ValidationFailureDeepInATreeRollsEverythingBack()
    {
        FrameInfo[] before = _f.Snapshot();
        Mfn l4 = _f.Free(0), l3 = _f.Free(1), l2 = _f.Free(2), l1 = _f.Free(3);
        _f.Entries(l4)[0] = _f.Entries(_f.InitialL4)[0];
        _f.Entries(l4)[1] = l3.Address | MmuFixture.Table;
        _f.Entries(l3)[0] = l2.Address | MmuFixture.Table;
        _f.Entries(l2)[0] = l1.Address | MmuFixture.Table;
        for (int i = 0; i < 100; i++)
        {
            _f.Entries(l1)[i] = _f.D.P2m[0x180 + (ulong)i].Address | MmuFixture.Rw;
        }

        _f.Entries(l1)[100] = _f.InitialL2.Address | MmuFixture.Rw; // the last straw: a page table, writable
        Assert.Equal(-XenErrno.EBUSY, _f.Pin(l4, 4));
        _f.AssertUnchanged(before);

        // Fixed, it pins; unpinned, everything is as before again.
        _f.Entries(l1)[100] = _f.InitialL2.Address | MmuFixture.Ro;
        Assert.Equal(0, _f.Pin(l4, 4));
        Assert.Equal(PageType.L1, _f.Frames[l1].Type);
        Assert.Equal(2u, _f.Frames[_f.D.P2m[0x180]].TypeCount);
        Assert.Equal(0, _f.Unpin(l4));
        _f.AssertUnchanged(before);
    }

    [Fact]
    public void MmuUpdateBatchesStopAtTheFirstFailure()
    {
        Mfn l1 = _f.HookFreshL1();
        int slot = 500;
        (long rc, uint done) = _f.MmuUpdate(MmuAbi.DomidSelf,
            (l1.Address + ((ulong)slot * 8), _f.D.P2m[0x150].Address | MmuFixture.Ro),
            (l1.Address + ((ulong)(slot + 1) * 8) + 4, 0),                                   // command 4: -ENOSYS
            (l1.Address + ((ulong)(slot + 2) * 8), _f.D.P2m[0x150].Address | MmuFixture.Ro));
        Assert.Equal((-XenErrno.ENOSYS, 1u), (rc, done));
        Assert.NotEqual(0UL, _f.Entries(l1)[slot]);
        Assert.Equal(0UL, _f.Entries(l1)[slot + 2]);

        // PRESERVE_AD keeps the accessed/dirty bits already in the entry.
        _f.Entries(l1)[slot] |= PageTableFlags.Dirty;
        Assert.Equal(0, _f.MmuUpdate((l1.Address + ((ulong)slot * 8) + MmuAbi.MmuPtUpdatePreserveAd, _f.D.P2m[0x150].Address | PageTableFlags.Present)));
        Assert.Equal(PageTableFlags.Accessed | PageTableFlags.Dirty, _f.Entries(l1)[slot] & (PageTableFlags.Accessed | PageTableFlags.Dirty));

        // MACHPHYS_UPDATE sets the M2P for own frames only.
        Assert.Equal(0, _f.MmuUpdate((_f.Free(3).Address | MmuAbi.MmuMachphysUpdate, 0x4242)));
        Assert.Equal(0x4242UL, _f.Pool.GetM2p(_f.Free(3)));
        Assert.Equal(-XenErrno.EINVAL, _f.MmuUpdate((0UL | MmuAbi.MmuMachphysUpdate, 7)));

        // An ordinary page is just written; a descriptor page is not writable this way.
        Assert.Equal(0, _f.MmuUpdate((_f.Free(4).Address + 16, 0x1234)));
        Assert.Equal(0x1234UL, _f.Entries(_f.Free(4))[2]);
        Assert.Equal(0, _f.SetEntry(l1, slot, 0));
        _f.AssertCountsConsistent();
    }
}
