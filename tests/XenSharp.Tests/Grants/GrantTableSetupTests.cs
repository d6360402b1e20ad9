using System.Buffers.Binary;
using XenSharp.Abi;
using XenSharp.Hypervisor;
using XenSharp.Hypervisor.Domains;
using XenSharp.Hypervisor.Grants;
using XenSharp.Hypervisor.Hypercalls;
using XenSharp.Hypervisor.Memory;
using XenSharp.Hypervisor.Pv.Mmu;
using XenSharp.Tests.Builder;
using XenSharp.Tests.Mmu;
using Xunit;
using static XenSharp.Hypervisor.Grants.GrantTableAbi;

namespace XenSharp.Tests.Grants;

/// <summary>GNTTABOP_setup_table, query_size, set_version, get_status_frames and get_version, and the frames' life cycle.</summary>
public sealed class GrantTableSetupTests : IDisposable
{
    private readonly GrantFixture _f = new();

    public void Dispose() => _f.Dispose();

    [Fact]
    public void ANewDomainHasOneV1FrameSharedAndTheRestHeldByXen()
    {
        Assert.Equal((1u, 1u, 0u), (_f.Gt.Version, _f.Gt.NrGrantFrames, _f.Gt.NrStatusFrames));
        Assert.Equal(GrantTable.MaxGrantFrames + GrantTable.MaxStatusFrames, _f.Gt.Frames.Count);
        Assert.Equal(8u, GrantTable.MaxStatusFrames);
        Assert.Contains(_f.Gt.Frames, _f.M.D.Extents);
        _f.AssertShared(_f.Gt.SharedFrame(0));
        for (uint i = 1; i < GrantTable.MaxGrantFrames; i++)
        {
            _f.AssertHeldByXen(_f.Gt.SharedFrame(i));
        }

        for (uint i = 0; i < GrantTable.MaxStatusFrames; i++)
        {
            _f.AssertHeldByXen(_f.Gt.StatusFrame(i));
        }
    }

    [Fact]
    public void SetupTableGrowsTheTableAndListsItsFrames()
    {
        (long rc, short status, ulong[] frames) = _f.Setup(DomidSelf, 4);
        Assert.Equal((0L, Okay), (rc, status));
        Assert.Equal(4u, _f.Gt.NrGrantFrames);
        for (uint i = 0; i < 4; i++)
        {
            Assert.Equal(_f.Gt.SharedFrame(i).Value, frames[i]);
            _f.AssertShared(_f.Gt.SharedFrame(i));
            Assert.True(_f.M.Pool.Frame(_f.Gt.SharedFrame(i)).IndexOfAnyExcept((byte)0) < 0);
        }

        _f.AssertHeldByXen(_f.Gt.SharedFrame(4));
        Assert.Equal((0L, Okay, 4u, 64u), _f.QuerySize(DomidSelf));

        // Asking for fewer frames lists only those and never shrinks the table; the domain's own id is DOMID_SELF.
        (rc, status, frames) = _f.Setup(_f.Id, 2);
        Assert.Equal((0L, Okay, 4u), (rc, status, _f.Gt.NrGrantFrames));
        Assert.Equal([_f.Gt.SharedFrame(0).Value, _f.Gt.SharedFrame(1).Value], frames);
        Assert.Equal(0UL, BinaryPrimitives.ReadUInt64LittleEndian(_f.M.Get(GrantFixture.List + 16, 8)));
        Assert.Equal((0L, Okay), _f.Setup(DomidSelf, 0).Pair);
        GrantFixture.Result all = _f.Setup(DomidSelf, 64);
        Assert.Equal((0L, Okay, 64u), (all.Rc, all.Status, _f.Gt.NrGrantFrames));
        Assert.Equal(_f.Gt.SharedFrame(63).Value, all.Frames[63]);
    }

    [Fact]
    public void TheGuestMapsItsGrantFramesButCanNeverTurnThemIntoPageTables()
    {
        _f.Setup(DomidSelf, 2);
        Mfn frame = _f.Gt.SharedFrame(1);
        _f.M.HookFreshL1();
        ulong va = MmuFixture.HookedVa(3);
        Assert.Equal(0, _f.M.UpdateVaMapping(va, frame.Address | MmuFixture.Rw));
        Assert.True(_f.M.V.CopyToGuest(va + 8, [1, 0, 7, 0, 0x34, 0x12, 0, 0]));
        Assert.True(_f.Gt.TryReadEntry(513, out ushort flags, out ushort domid, out ulong gfn));
        Assert.Equal((GtfPermitAccess, (ushort)7, 0x1234UL), (flags, domid, gfn));
        Assert.Equal((2u, 2u), (_f.M.Frames[frame].TypeCount, _f.M.Frames[frame].RefCount));

        Assert.Equal(-XenErrno.EINVAL, _f.M.Pin(frame, 1));
        Assert.Equal(-XenErrno.EINVAL, _f.M.Pin(_f.Gt.SharedFrame(0), 1));
        Assert.Equal(0, _f.M.UpdateVaMapping(va, 0));
        _f.AssertShared(frame);
        _f.M.AssertCountsConsistent();

        // A frame the table has not handed out yet is Xen's: the guest cannot map it.
        Assert.Equal(-XenErrno.EBUSY, _f.M.UpdateVaMapping(va, _f.Gt.SharedFrame(2).Address | MmuFixture.Ro));
        Assert.Equal(-XenErrno.EBUSY, _f.M.UpdateVaMapping(va, _f.Gt.StatusFrame(0).Address | MmuFixture.Ro));
    }

    [Fact]
    public void SetupTableRefusesOtherDomainsAndTooManyFrames()
    {
        Domain other = _f.M.Hv.CreateDomain("other", 1, 256, new CapturingConsole());
        Assert.Equal((0L, PermissionDenied), _f.Setup(other.Id, 1).Pair);
        Assert.Equal((0L, PermissionDenied), _f.Setup(0, 1).Pair); // the backend domain
        Assert.Equal((0L, BadDomain), _f.Setup(77, 1).Pair);
        Assert.Equal((0L, BadDomain), _f.Setup(MmuAbi.DomidIo, 1).Pair);
        Assert.Equal((0L, GeneralError), _f.Setup(DomidSelf, 65).Pair);
        Assert.Equal((0L, GeneralError), _f.Setup(DomidSelf, uint.MaxValue, GrantFixture.Unmapped).Pair);
        Assert.Equal(1u, _f.Gt.NrGrantFrames);
        Assert.Equal(1u, other.Grants.NrGrantFrames);
        Assert.Equal((0L, PermissionDenied, 0xaaaau, 0xbbbbu), _f.QuerySize(other.Id));
        Assert.Equal((0L, BadDomain, 0xaaaau, 0xbbbbu), _f.QuerySize(77));
        Assert.Equal((0L, Okay, 1u, 64u), _f.QuerySize(_f.Id));
    }

    [Fact]
    public void HostileHandlesAndCountsFailCleanly()
    {
        // The struct itself: unreadable, non-canonical, in the hypervisor's area.
        Assert.Equal(-XenErrno.EFAULT, _f.Call(SetupTable, GrantFixture.Unmapped, 1));
        Assert.Equal(-XenErrno.EFAULT, _f.Call(SetupTable, GrantFixture.NonCanonical, 1));
        Assert.Equal(-XenErrno.EFAULT, _f.Call(SetupTable, GrantFixture.HypervisorArea, 1));
        Assert.Equal(-XenErrno.EFAULT, _f.Call(QuerySize, GrantFixture.Unmapped, 1));
        Assert.Equal(-XenErrno.EFAULT, _f.Call(GrantTableAbi.SetVersion, GrantFixture.Unmapped, 1));
        Assert.Equal(-XenErrno.EFAULT, _f.Call(GrantTableAbi.GetVersion, GrantFixture.HypervisorArea, 1));
        Assert.Equal(-XenErrno.EFAULT, _f.Call(GetStatusFrames, GrantFixture.NonCanonical, 1));

        // frame_list outside the guest's half is -EFAULT up front; unmapped but plausible is a per-op status.
        Assert.Equal(-XenErrno.EFAULT, _f.Setup(DomidSelf, 1, GrantFixture.NonCanonical).Rc);
        Assert.Equal(-XenErrno.EFAULT, _f.Setup(DomidSelf, 1, GrantFixture.HypervisorArea).Rc);
        Assert.Equal((0L, BadVirtAddr), _f.Setup(DomidSelf, 1, GrantFixture.Unmapped).Pair);
        Assert.Equal((0L, BadVirtAddr), _f.Setup(DomidSelf, 1, GrantFixture.Unmapped - 8).Pair);

        // count: these take exactly one op; a negative count is refused for every command; continuation bits too.
        _f.M.Put(GrantFixture.Op, GrantFixture.SetupStruct(DomidSelf, 1, GrantFixture.List));
        Assert.Equal(-XenErrno.EINVAL, _f.Call(SetupTable, GrantFixture.Op, 0));
        Assert.Equal(-XenErrno.EINVAL, _f.Call(SetupTable, GrantFixture.Op, 2));
        Assert.Equal(-XenErrno.EINVAL, _f.Call(QuerySize, GrantFixture.Op, 2));
        Assert.Equal(-XenErrno.EINVAL, _f.Call(GetStatusFrames, GrantFixture.Op, 0));
        foreach (uint cmd in new[] { MapGrantRef, UnmapGrantRef, SetupTable, GrantTableAbi.SetVersion, SwapGrantRef, 99u })
        {
            Assert.Equal(-XenErrno.EINVAL, _f.Call(cmd, GrantFixture.Op, 0x8000_0000));
            Assert.Equal(-XenErrno.EINVAL, _f.Call(cmd, GrantFixture.Op, uint.MaxValue));
            Assert.Equal(-XenErrno.EINVAL, _f.Call(cmd | (1u << 12), GrantFixture.Op, 1));
        }

        Assert.Equal(-XenErrno.ENOSYS, _f.Call(CacheFlush | (5u << 12), GrantFixture.Op, 1)); // not on x86
        Assert.Equal(1u, _f.Gt.NrGrantFrames);

        // A status field the guest cannot write is -EFAULT (the table may have grown, as in Xen).
        _f.M.HookFreshL1();
        Mfn ro = _f.M.Free(5);
        Assert.Equal(0, _f.M.UpdateVaMapping(MmuFixture.HookedVa(1), ro.Address | MmuFixture.Ro));
        GrantFixture.SetupStruct(DomidSelf, 1, GrantFixture.List).CopyTo(_f.M.Pool.Frame(ro));
        Assert.Equal(-XenErrno.EFAULT, _f.Call(SetupTable, MmuFixture.HookedVa(1), 1));
        Assert.Equal(0x5555, BinaryPrimitives.ReadInt16LittleEndian(_f.M.Pool.Frame(ro)[SetupTableStatus..]));
        Assert.Equal(0, _f.M.UpdateVaMapping(MmuFixture.HookedVa(1), 0));

        // A frame list that runs into unmapped memory: the MFNs before the hole are written.
        Assert.Equal(0, _f.M.UpdateVaMapping(MmuFixture.HookedVa(2), _f.M.Free(6).Address | MmuFixture.Rw));
        ulong list = MmuFixture.HookedVa(3) - 8;
        Assert.Equal((0L, BadVirtAddr), _f.Setup(DomidSelf, 2, list).Pair);
        Assert.Equal(_f.Gt.SharedFrame(0).Value, BinaryPrimitives.ReadUInt64LittleEndian(_f.M.Get(list, 8)));
        Assert.Equal(2u, _f.Gt.NrGrantFrames);
        _f.M.AssertCountsConsistent();
    }

    [Fact]
    public void VersionTwoSharesStatusFramesAndVersionOneTakesThemBack()
    {
        Assert.Equal((0L, 1u), _f.GetVersion(DomidSelf));
        Assert.Equal((0L, Okay), _f.StatusFrames(DomidSelf, 0).Pair);
        Assert.Equal((0L, GeneralError), _f.StatusFrames(DomidSelf, 1).Pair); // v1 has none

        Assert.Equal((0L, 2u), _f.SetVersion(2));
        Assert.Equal((0L, 2u), _f.SetVersion(2)); // already in effect
        Assert.Equal((0L, 2u), _f.GetVersion(_f.Id));
        Assert.Equal((1u, 256u), (_f.Gt.NrStatusFrames, _f.Gt.NrEntries));
        _f.AssertShared(_f.Gt.StatusFrame(0));
        (long rc, short status, ulong[] frames) = _f.StatusFrames(DomidSelf, 1);
        Assert.Equal((0L, Okay, _f.Gt.StatusFrame(0).Value), (rc, status, frames[0]));
        Assert.Equal((0L, GeneralError), _f.StatusFrames(DomidSelf, 2).Pair);

        // Growing a v2 table grows its status frames: 9 frames of 256 entries need 2 status frames of 2048.
        Assert.Equal((0L, Okay), _f.Setup(DomidSelf, 9).Pair);
        Assert.Equal(2u, _f.Gt.NrStatusFrames);
        _f.AssertShared(_f.Gt.StatusFrame(1));
        Assert.Equal((0L, Okay), _f.StatusFrames(DomidSelf, 2).Pair);

        _f.M.Pool.Frame(_f.Gt.StatusFrame(1))[100] = 0x42;
        Assert.Equal((0L, 1u), _f.SetVersion(1));
        Assert.Equal((0u, 9u * 512), (_f.Gt.NrStatusFrames, _f.Gt.NrEntries));
        _f.AssertHeldByXen(_f.Gt.StatusFrame(0));
        _f.AssertHeldByXen(_f.Gt.StatusFrame(1));
        Assert.Equal((0L, GeneralError), _f.StatusFrames(DomidSelf, 1).Pair);

        // Back to v2: the status frames come back zeroed.
        Assert.Equal((0L, 2u), _f.SetVersion(2));
        Assert.Equal(2u, _f.Gt.NrStatusFrames);
        Assert.True(_f.M.Pool.Frame(_f.Gt.StatusFrame(1)).IndexOfAnyExcept((byte)0) < 0);
    }

    [Fact]
    public void BadVersionsAreRefusedAndTheCurrentVersionWrittenBack()
    {
        Assert.Equal((-XenErrno.EINVAL, 1u), _f.SetVersion(0));
        Assert.Equal((-XenErrno.EINVAL, 1u), _f.SetVersion(3));
        Assert.Equal((-XenErrno.EINVAL, 1u), _f.SetVersion(uint.MaxValue));
        _f.SetVersion(2);
        Assert.Equal((-XenErrno.EINVAL, 2u), _f.SetVersion(7));

        Domain other = _f.M.Hv.CreateDomain("other", 1, 256, new CapturingConsole());
        Assert.Equal(-XenErrno.EPERM, _f.GetVersion(other.Id).Rc);
        Assert.Equal(-XenErrno.EPERM, _f.GetVersion(0).Rc);
        Assert.Equal((-XenErrno.ESRCH, 0xccccu), _f.GetVersion(77));
        Assert.Equal((0L, PermissionDenied), _f.StatusFrames(other.Id, 1).Pair);
        Assert.Equal((0L, BadDomain), _f.StatusFrames(77, 1).Pair);
        Assert.Equal(-XenErrno.EFAULT, _f.StatusFrames(DomidSelf, 1, GrantFixture.HypervisorArea).Rc);
        Assert.Equal((0L, BadVirtAddr), _f.StatusFrames(DomidSelf, 1, GrantFixture.Unmapped).Pair);
    }

    [Fact]
    public void AMappedStatusFrameKeepsVersionTwo() // XSA-255
    {
        _f.SetVersion(2);
        Mfn status = _f.Gt.StatusFrame(0);
        _f.M.HookFreshL1();
        ulong va = MmuFixture.HookedVa(2);
        Assert.Equal(0, _f.M.UpdateVaMapping(va, status.Address | MmuFixture.Ro));

        Assert.Equal((-XenErrno.EBUSY, 2u), _f.SetVersion(1));
        Assert.Equal((2u, 1u), (_f.Gt.Version, _f.Gt.NrStatusFrames));
        Assert.Equal((_f.Id, 2u), (_f.M.Frames[status].Owner, _f.M.Frames[status].RefCount));
        Assert.Contains("status frame is still mapped", _f.M.Log.ToString());

        Assert.Equal(0, _f.M.UpdateVaMapping(va, 0));
        Assert.Equal((0L, 1u), _f.SetVersion(1));
        _f.AssertHeldByXen(status);
        Assert.Equal(-XenErrno.EBUSY, _f.M.UpdateVaMapping(va, status.Address | MmuFixture.Ro)); // no longer the guest's
        _f.M.AssertCountsConsistent();
    }

    [Fact]
    public void ReservedEntriesSurviveVersionChangesAndTheRestIsCleared()
    {
        _f.WriteV1(0, GtfPermitAccess | GtfReadonly | GtfReading, 0, 0x1111);
        _f.WriteV1(1, GtfPermitAccess, 0, 0x2222);
        _f.WriteV1(2, GtfAcceptTransfer, 3, 0x3333);
        _f.WriteV1(8, GtfPermitAccess, 5, 0x4444);
        byte[] e0 = _f.ReadV1(0), e1 = _f.ReadV1(1);

        Assert.Equal(0, _f.SetVersion(2).Rc);
        Span<byte> v2 = _f.V2Entry(0);
        Assert.Equal(GtfPermitAccess | GtfReadonly, BinaryPrimitives.ReadUInt16LittleEndian(v2));
        Assert.Equal(0x1111UL, BinaryPrimitives.ReadUInt64LittleEndian(v2[8..]));
        Assert.Equal(GtfReading, BinaryPrimitives.ReadUInt16LittleEndian(_f.StatusEntry(0)));
        Assert.Equal(GtfAcceptTransfer, BinaryPrimitives.ReadUInt16LittleEndian(_f.V2Entry(2))); // v1 copied as it is
        Assert.True(_f.V2Entry(4).IndexOfAnyExcept((byte)0) < 0); // ref 8 in v1 bytes 64..71 = v2 entry 4: cleared

        Assert.Equal(0, _f.SetVersion(1).Rc);
        Assert.Equal(e0, _f.ReadV1(0));
        Assert.Equal(e1, _f.ReadV1(1));
        Assert.Equal(new byte[8], _f.ReadV1(2)); // accept_transfer does not survive v2 -> v1 in Xen either
        Assert.Equal(new byte[8], _f.ReadV1(8));
    }

    [Fact]
    public void V2EntriesV1CannotExpressRefuseTheSwitch()
    {
        _f.SetVersion(2);
        Span<byte> e = _f.V2Entry(1);
        BinaryPrimitives.WriteUInt16LittleEndian(e, GtfPermitAccess);
        BinaryPrimitives.WriteUInt64LittleEndian(e[8..], 1UL << 32);
        Assert.Equal((-XenErrno.ERANGE, 2u), _f.SetVersion(1));
        BinaryPrimitives.WriteUInt16LittleEndian(e, GtfTransitive);
        Assert.Equal((-XenErrno.ERANGE, 2u), _f.SetVersion(1));
        Assert.Equal(1u, _f.Gt.NrStatusFrames);

        // Entries past the reserved ones do not matter: they are cleared.
        BinaryPrimitives.WriteUInt16LittleEndian(e, 0);
        BinaryPrimitives.WriteUInt16LittleEndian(_f.V2Entry(9), GtfTransitive);
        Assert.Equal((0L, 1u), _f.SetVersion(1));
    }

    [Fact]
    public void DestroyingTheDomainReturnsEveryGrantFrame()
    {
        using XenHypervisor hv = TestDomains.Hypervisor();
        ulong free = hv.Pool.FreeFrames;
        for (int round = 0; round < 3; round++)
        {
            Domain d = TestDomains.Build(hv);
            Vcpu v = d.Vcpus[0];
            Assert.True(v.CopyToGuest(GrantFixture.Op, GrantFixture.SetupStruct(DomidSelf, 64, GrantFixture.List)));
            Assert.Equal(0, (long)HypercallDispatcher.Dispatch(v, HypercallNumber.GrantTableOp, SetupTable, GrantFixture.Op, 1, 0, 0));
            Assert.True(v.CopyToGuest(GrantFixture.Op, [2, 0, 0, 0]));
            Assert.Equal(0, (long)HypercallDispatcher.Dispatch(v, HypercallNumber.GrantTableOp, GrantTableAbi.SetVersion, GrantFixture.Op, 1, 0, 0));
            Assert.Equal((64u, 8u), (d.Grants.NrGrantFrames, d.Grants.NrStatusFrames));
            Extent grants = d.Grants.Frames;

            hv.Destroy(d);
            Assert.Equal(0UL, hv.Pool.Frames.CountOwnedBy(d.Id));
            for (ulong i = 0; i < grants.Count; i++)
            {
                Assert.True(hv.Pool.Frames[grants.First.Add(i)].IsFree);
            }
        }

        Assert.Equal(free, hv.Pool.FreeFrames);
    }
}
