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
/// map_grant_ref's checks (each failure with Xen's status, in Xen's order, and nothing changed), unmap of handles that
/// name no mapping, swap_grant_ref, and the commands that are not implemented. What a mapping does is in
/// <see cref="GrantMappingTests"/>.
/// </summary>
public sealed class GrantMapTests : IDisposable
{
    private const uint Gref = 8;
    private readonly GrantFixture _f = new();
    private readonly Mfn _l1;
    private readonly Mfn _data;

    public GrantMapTests()
    {
        _l1 = _f.M.HookFreshL1();
        _data = _f.M.Free(3);
        _f.WriteV1(Gref, GtfPermitAccess, _f.Id, (uint)_data.Value);
    }

    public void Dispose() => _f.Dispose();

    private static ulong Va => MmuFixture.HookedVa(5);

    [Fact]
    public void MapRequestsFailWithXensStatusInXensOrder()
    {
        Assert.Equal((0L, BadGntref), _f.Map(Va, 0, Gref, _f.Id));
        Assert.Equal((0L, BadGntref), _f.Map(Va, GntmapReadonly | GntmapContainsPte, Gref, _f.Id));
        Assert.Equal((0L, BadDomain), _f.Map(Va, GntmapHostMap, Gref, 77));
        Assert.Equal((0L, BadDomain), _f.Map(Va, GntmapHostMap, Gref, DomidSelf)); // map names the granter by id
        Assert.Equal((0L, BadGntref), _f.Map(Va, GntmapHostMap, 512, _f.Id)); // one v1 frame: refs 0..511
        Assert.Equal((0L, BadGntref), _f.Map(Va, GntmapHostMap, uint.MaxValue, _f.Id));
        Assert.Equal((0L, GeneralError), _f.Map(Va, GntmapHostMap, 9, _f.Id)); // an invalid entry

        _f.WriteV1(9, GtfPermitAccess, 5, (uint)_data.Value);
        Assert.Equal((0L, GeneralError), _f.Map(Va, GntmapHostMap, 9, _f.Id)); // granted to another domain
        _f.WriteV1(9, GtfPermitAccess | GtfSubPage, _f.Id, (uint)_data.Value);
        Assert.Equal((0L, GeneralError), _f.Map(Va, GntmapHostMap, 9, _f.Id)); // sub-page grants are copy-only
        _f.WriteV1(9, GtfTransitive, _f.Id, (uint)_data.Value);
        Assert.Equal((0L, GeneralError), _f.Map(Va, GntmapHostMap, 9, _f.Id));
        _f.WriteV1(9, GtfPermitAccess | GtfReadonly, _f.Id, (uint)_data.Value);
        Assert.Equal((0L, GeneralError), _f.Map(Va, GntmapHostMap, 9, _f.Id)); // r/o grant, writable map
        Assert.Equal(Okay, _f.MapFull(Va, GntmapHostMap | GntmapReadonly, 9, _f.Id).Status);

        // Once pinned, the entry is not read again: the frame and the mapper were fixed by the first mapping.
        _f.WriteV1(9, GtfInvalid, 0, 0);
        Assert.Equal(Okay, _f.MapFull(MmuFixture.HookedVa(7), GntmapHostMap | GntmapReadonly, 9, _f.Id).Status);
        Assert.Equal(_data, PageTableValidator.EntryMfn(_f.M.Entries(_l1)[7]));

        // The granted frame must be the granter's: not free, not Xen's, not another domain's.
        _f.WriteV1(11, GtfPermitAccess, _f.Id, 0xfffffff);
        Assert.Equal((0L, BadPage), _f.Map(Va, GntmapHostMap, 11, _f.Id));
        _f.WriteV1(11, GtfPermitAccess, _f.Id, (uint)_f.M.Hv.Shared.ZeroFrame.Value);
        Assert.Equal((0L, BadPage), _f.Map(Va, GntmapHostMap, 11, _f.Id));
        _f.WriteV1(11, GtfPermitAccess, _f.Id, (uint)_f.Gt.SharedFrame(5).Value); // reserved for the table, not handed out
        Assert.Equal((0L, BadPage), _f.Map(Va, GntmapHostMap, 11, _f.Id));
        Assert.Equal(GtfPermitAccess, _f.ReadV1(11)[0]); // the status set on the way is taken back
        Assert.Equal(1, _f.Gt.PinnedEntries); // only ref 9: failures leave no pin behind

        // A page table cannot be pinned writable; read-only it can.
        _f.WriteV1(10, GtfPermitAccess, _f.Id, (uint)_l1.Value);
        Assert.Equal((0L, GeneralError), _f.Map(Va, GntmapDeviceMap, 10, _f.Id));
        Assert.Equal((0L, GeneralError), _f.Map(Va, GntmapHostMap, 10, _f.Id));
        Assert.Equal(GtfPermitAccess, _f.ReadV1(10)[0]); // no GTF_reading/GTF_writing left behind
        Assert.Equal(Okay, _f.MapFull(MmuFixture.HookedVa(6), GntmapHostMap | GntmapReadonly, 10, _f.Id).Status);
        _f.M.AssertCountsConsistent();
    }

    [Fact]
    public void HostMappingsNeedAnAlignedPteInAnL1OrALinearAddressWithAnL1() // XSA-227
    {
        Assert.Equal((0L, GeneralError), _f.Map(_l1.Address + (2 * 8) - 2, GntmapHostMap | GntmapContainsPte, Gref, _f.Id));
        Assert.Equal((0L, GeneralError), _f.Map(_l1.Address + 1, GntmapHostMap | GntmapContainsPte, Gref, _f.Id));
        Assert.Equal((0L, GeneralError), _f.Map(_f.M.Free(4).Address, GntmapHostMap | GntmapContainsPte, Gref, _f.Id)); // not an L1
        Assert.Equal((0L, GeneralError), _f.Map(_f.M.InitialL2.Address, GntmapHostMap | GntmapContainsPte, Gref, _f.Id)); // an L2
        Assert.Equal((0L, GeneralError), _f.Map(_f.M.Hv.Shared.ZeroFrame.Address, GntmapHostMap | GntmapContainsPte, Gref, _f.Id));
        Assert.Equal((0L, GeneralError), _f.Map(ulong.MaxValue & ~7UL, GntmapHostMap | GntmapContainsPte, Gref, _f.Id));
        Assert.Equal(0UL, _f.M.Entries(_l1)[2]);

        Assert.Equal((0L, GeneralError), _f.Map(GrantFixture.Unmapped, GntmapHostMap, Gref, _f.Id)); // no L1 maps it
        Assert.Equal((0L, GeneralError), _f.Map(GrantFixture.NonCanonical, GntmapHostMap, Gref, _f.Id));
        Assert.Equal((0L, GeneralError), _f.Map(0x0001000000000000, GntmapHostMap, Gref, _f.Id));
        Assert.Equal((0L, GeneralError), _f.Map(GrantFixture.HypervisorArea, GntmapHostMap, Gref, _f.Id));

        Assert.Equal(0, _f.Gt.PinnedEntries);
        Assert.Equal(GtfPermitAccess, _f.ReadV1(Gref)[0]);
        Assert.Equal(0, _f.Gt.Maptrack.InUse);

        // Device-only mappings need no PTE at all.
        Assert.Equal(Okay, _f.MapFull(GrantFixture.Unmapped, GntmapDeviceMap, Gref, _f.Id).Status);
    }

    [Fact]
    public void TheBackendDomainGrantsNothing() // XSA-316: a wrong domain is a negative status, never a positive one
    {
        Assert.Equal((0L, GeneralError), _f.Map(Va, GntmapHostMap, Gref, 0));
        Assert.Equal((0L, GeneralError), _f.Map(Va, GntmapHostMap, 0, 0));
        Assert.Equal((0L, BadGntref), _f.Map(Va, GntmapHostMap, 512, 0));

        // Another domain's table is consulted: it must grant the entry to us.
        Domain other = _f.M.Hv.CreateDomain("other", 1, 256, new CapturingConsole());
        Assert.Equal((0L, GeneralError), _f.Map(Va, GntmapHostMap, Gref, other.Id));
        Assert.Equal((0L, BadGntref), _f.Map(Va, GntmapHostMap, 512, other.Id));
        Span<byte> e = _f.M.Pool.Memory.GetSpan(other.Grants.SharedFrame(0).Address + (Gref * 8), 8);
        BinaryPrimitives.WriteUInt16LittleEndian(e, GtfPermitAccess);
        BinaryPrimitives.WriteUInt16LittleEndian(e[2..], _f.Id);
        BinaryPrimitives.WriteUInt32LittleEndian(e[4..], (uint)_data.Value); // our frame, not theirs
        Assert.Equal((0L, BadPage), _f.Map(Va, GntmapHostMap, Gref, other.Id));
        BinaryPrimitives.WriteUInt32LittleEndian(e[4..], (uint)other.P2m[0].Value);
        Assert.Equal(Okay, _f.MapFull(Va, GntmapHostMap, Gref, other.Id).Status); // what a foreign mapping does: GrantForeignTests
    }

    [Fact]
    public void MapBatchesWriteEachStatusAndStopAtAFault()
    {
        var ops = new byte[3 * MapSize];
        GrantFixture.MapStruct(Va, 0, Gref, _f.Id).CopyTo(ops, 0);
        GrantFixture.MapStruct(Va, GntmapHostMap, Gref, 77).CopyTo(ops, MapSize);
        GrantFixture.MapStruct(Va, GntmapHostMap, 9, _f.Id).CopyTo(ops, 2 * MapSize);
        _f.M.Put(GrantFixture.Op, ops);
        Assert.Equal(0, _f.Call(MapGrantRef, GrantFixture.Op, 3));
        byte[] r = _f.M.Get(GrantFixture.Op, 3 * MapSize);
        Assert.Equal(BadGntref, BinaryPrimitives.ReadInt16LittleEndian(r.AsSpan(MapStatus)));
        Assert.Equal(BadDomain, BinaryPrimitives.ReadInt16LittleEndian(r.AsSpan(MapSize + MapStatus)));
        Assert.Equal(GeneralError, BinaryPrimitives.ReadInt16LittleEndian(r.AsSpan((2 * MapSize) + MapStatus)));
        Assert.Equal(0x77777777u, BinaryPrimitives.ReadUInt32LittleEndian(r.AsSpan(MapHandle))); // failed ops keep handle and bus address
        Assert.Equal(0x1234UL, BinaryPrimitives.ReadUInt64LittleEndian(r.AsSpan(MapDevBusAddr)));

        // An op array running into unmapped memory: the ops before it are done, then -EFAULT.
        ulong last = MmuFixture.HookedVa(1) + 4096 - MapSize;
        Assert.Equal(0, _f.M.UpdateVaMapping(MmuFixture.HookedVa(1), _f.M.Free(6).Address | MmuFixture.Rw));
        _f.M.Put(last, GrantFixture.MapStruct(Va, 0, Gref, _f.Id));
        Assert.Equal(-XenErrno.EFAULT, _f.Call(MapGrantRef, last, 2));
        Assert.Equal(BadGntref, BinaryPrimitives.ReadInt16LittleEndian(_f.M.Get(last + MapStatus, 2)));
        Assert.Equal(-XenErrno.EFAULT, _f.Call(MapGrantRef, last, 0x7fffffff));

        Assert.Equal(-XenErrno.EFAULT, _f.Call(MapGrantRef, GrantFixture.NonCanonical, 1));
        Assert.Equal(-XenErrno.EFAULT, _f.Call(MapGrantRef, GrantFixture.HypervisorArea, 1));
        Assert.Equal(-XenErrno.EFAULT, _f.Call(MapGrantRef, GrantFixture.Unmapped, 1));
        Assert.Equal(-XenErrno.EFAULT, _f.Call(MapGrantRef, GrantFixture.NonCanonical, 0)); // guest_handle_okay, even for none
        Assert.Equal(0, _f.Call(MapGrantRef, GrantFixture.Unmapped, 0));
    }

    [Fact]
    public void UnmapsOfHandlesThatNameNoMappingAreBadHandle()
    {
        uint live = _f.MapOk(Va, GntmapHostMap, Gref, _f.Id);
        uint freed = _f.MapOk(0, GntmapDeviceMap, Gref, _f.Id);
        Assert.Equal((0L, Okay), _f.Unmap(0, _data.Address, freed));
        foreach ((uint cmd, int size) in new[] { (UnmapGrantRef, UnmapSize), (UnmapAndReplace, UnmapAndReplaceSize) })
        {
            // Past the table, allocated but never used, and unmapped already.
            uint[] handles = [uint.MaxValue, (uint)Hypervisor.Grants.Maptrack.HandlesPerFrame, 7, freed];
            var ops = new byte[handles.Length * size];
            for (int i = 0; i < handles.Length; i++)
            {
                BinaryPrimitives.WriteUInt64LittleEndian(ops.AsSpan(i * size), Va);
                BinaryPrimitives.WriteUInt32LittleEndian(ops.AsSpan((i * size) + UnmapHandle), handles[i]);
                BinaryPrimitives.WriteInt16LittleEndian(ops.AsSpan((i * size) + UnmapStatus), 0x5555);
            }

            _f.M.Put(GrantFixture.Op, ops);
            Assert.Equal(0, _f.Call(cmd, GrantFixture.Op, (ulong)handles.Length));
            byte[] r = _f.M.Get(GrantFixture.Op, handles.Length * size);
            for (int i = 0; i < handles.Length; i++)
            {
                Assert.Equal(BadHandle, BinaryPrimitives.ReadInt16LittleEndian(r.AsSpan((i * size) + UnmapStatus)));
            }

            Assert.Equal(-XenErrno.EFAULT, _f.Call(cmd, GrantFixture.HypervisorArea, 1));
            Assert.Equal(-XenErrno.EFAULT, _f.Call(cmd, GrantFixture.Unmapped, 1));
            Assert.Equal(-XenErrno.EFAULT, _f.Call(cmd, GrantFixture.Op, 0x7fffffff)); // runs off the mapped memory
        }

        Assert.Equal(1, _f.Gt.Maptrack.InUse); // the live mapping was never touched
        Assert.Equal((0L, Okay), _f.Unmap(Va, 0, live));
    }

    [Fact]
    public void SwapExchangesEntriesOfTheCallersTable()
    {
        _f.WriteV1(9, GtfPermitAccess | GtfReadonly, 4, 0x99);
        byte[] e8 = _f.ReadV1(8), e9 = _f.ReadV1(9);
        var ops = new byte[4 * SwapSize];
        (uint A, uint B)[] pairs = [(8, 9), (8, 8), (8, 512), (uint.MaxValue, 9)];
        for (int i = 0; i < pairs.Length; i++)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(ops.AsSpan(i * SwapSize), pairs[i].A);
            BinaryPrimitives.WriteUInt32LittleEndian(ops.AsSpan((i * SwapSize) + 4), pairs[i].B);
        }

        _f.M.Put(GrantFixture.Op, ops);
        Assert.Equal(0, _f.Call(SwapGrantRef, GrantFixture.Op, 4));
        byte[] r = _f.M.Get(GrantFixture.Op, 4 * SwapSize);
        short[] statuses = [.. Enumerable.Range(0, 4).Select(i => BinaryPrimitives.ReadInt16LittleEndian(r.AsSpan((i * SwapSize) + SwapStatus)))];
        Assert.Equal([Okay, Okay, BadGntref, BadGntref], statuses);
        Assert.Equal(e9, _f.ReadV1(8));
        Assert.Equal(e8, _f.ReadV1(9));

        // An entry in use keeps its place: GNTST_eagain, whichever side it is on.
        uint h = _f.MapOk(0, GntmapDeviceMap | GntmapReadonly, 9, _f.Id);
        BinaryPrimitives.WriteUInt32LittleEndian(ops, 9);
        BinaryPrimitives.WriteUInt32LittleEndian(ops.AsSpan(4), 10);
        BinaryPrimitives.WriteUInt32LittleEndian(ops.AsSpan(SwapSize), 11);
        BinaryPrimitives.WriteUInt32LittleEndian(ops.AsSpan(SwapSize + 4), 9);
        _f.M.Put(GrantFixture.Op, ops.AsSpan(0, 2 * SwapSize));
        Assert.Equal(0, _f.Call(SwapGrantRef, GrantFixture.Op, 2));
        Assert.Equal(Eagain, BinaryPrimitives.ReadInt16LittleEndian(_f.M.Get(GrantFixture.Op + SwapStatus, 2)));
        Assert.Equal(Eagain, BinaryPrimitives.ReadInt16LittleEndian(_f.M.Get(GrantFixture.Op + SwapSize + SwapStatus, 2)));
        Assert.Equal((0L, Okay), _f.Unmap(0, _data.Address, h));

        // v2 swaps the status entries too.
        _f.SetVersion(2);
        BinaryPrimitives.WriteUInt16LittleEndian(_f.V2Entry(8), GtfPermitAccess);
        BinaryPrimitives.WriteUInt16LittleEndian(_f.StatusEntry(8), GtfReading);
        BinaryPrimitives.WriteUInt32LittleEndian(ops, 8);
        BinaryPrimitives.WriteUInt32LittleEndian(ops.AsSpan(4), 300); // beyond 256 v2 entries
        BinaryPrimitives.WriteUInt32LittleEndian(ops.AsSpan(SwapSize), 8);
        BinaryPrimitives.WriteUInt32LittleEndian(ops.AsSpan(SwapSize + 4), 200);
        _f.M.Put(GrantFixture.Op, ops.AsSpan(0, 2 * SwapSize));
        Assert.Equal(0, _f.Call(SwapGrantRef, GrantFixture.Op, 2));
        Assert.Equal(BadGntref, BinaryPrimitives.ReadInt16LittleEndian(_f.M.Get(GrantFixture.Op + SwapStatus, 2)));
        Assert.Equal(Okay, BinaryPrimitives.ReadInt16LittleEndian(_f.M.Get(GrantFixture.Op + SwapSize + SwapStatus, 2)));
        Assert.Equal(GtfPermitAccess, BinaryPrimitives.ReadUInt16LittleEndian(_f.V2Entry(200)));
        Assert.Equal(GtfReading, BinaryPrimitives.ReadUInt16LittleEndian(_f.StatusEntry(200)));
        Assert.Equal(0, BinaryPrimitives.ReadUInt16LittleEndian(_f.StatusEntry(8)));
    }

    [Fact]
    public void UnimplementedCommandsAreEnosysAndAStoppingVcpuLeavesABatch()
    {
        foreach (uint cmd in new[] { DumpTable, Transfer, CacheFlush, 13u, 4095u })
        {
            Assert.Equal(-XenErrno.ENOSYS, _f.Call(cmd, GrantFixture.Op, 1));
        }

        Assert.Contains("unimplemented grant_table_op 4", _f.M.Log.ToString());

        _f.M.V.StopRequested = true;
        try
        {
            Assert.Equal(-XenErrno.EINTR, _f.Call(UnmapGrantRef, GrantFixture.Op, 0x7fffffff));
            Assert.Equal(-XenErrno.EINTR, _f.Call(MapGrantRef, GrantFixture.Op, 0x7fffffff));
            Assert.Equal(-XenErrno.EINTR, _f.Call(SwapGrantRef, GrantFixture.Op, 0x7fffffff));
            Assert.Equal(-XenErrno.EINTR, _f.Call(Copy, GrantFixture.Op, 0x7fffffff));
        }
        finally
        {
            _f.M.V.StopRequested = false;
        }
    }
}
