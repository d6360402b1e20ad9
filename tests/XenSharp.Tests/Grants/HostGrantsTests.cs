using System.Buffers.Binary;
using XenSharp.Abi;
using XenSharp.Hypervisor;
using XenSharp.Hypervisor.Dom0;
using XenSharp.Hypervisor.Domains;
using XenSharp.Hypervisor.Memory;
using XenSharp.Tests.Builder;
using Xunit;
using static XenSharp.Hypervisor.Grants.GrantTableAbi;

namespace XenSharp.Tests.Grants;

/// <summary>Domain 0's grant device: a backend maps a guest's grant to domain 0, holding the frame for the mapping's life.</summary>
public sealed class HostGrantsTests : IDisposable
{
    private const uint Rw = 8;
    private const uint Ro = 9;
    private readonly XenHypervisor _hv = TestDomains.Hypervisor();
    private readonly Domain _guest;

    public HostGrantsTests()
    {
        _guest = _hv.CreateDomain("guest", 1, 512, new CapturingConsole());
        Grant(Rw, GtfPermitAccess, 0, _guest.P2m[5]);
        Grant(Ro, GtfPermitAccess | GtfReadonly, 0, _guest.P2m[6]);
    }

    public void Dispose() => _hv.Dispose();

    private Span<byte> Entry(uint gref) => _hv.Pool.Memory.GetSpan(_guest.Grants.SharedFrame(0).Address + (gref * 8), 8);

    private void Grant(uint gref, ushort flags, ushort domid, Mfn frame)
    {
        Span<byte> e = Entry(gref);
        BinaryPrimitives.WriteUInt16LittleEndian(e[2..], domid);
        BinaryPrimitives.WriteUInt32LittleEndian(e[4..], (uint)frame.Value);
        BinaryPrimitives.WriteUInt16LittleEndian(e, flags);
    }

    private ushort Flags(uint gref) => BinaryPrimitives.ReadUInt16LittleEndian(Entry(gref));

    private FrameInfo Info(Mfn m) => _hv.Pool.Frames[m];

    [Fact]
    public void AMappingHoldsTheFrameAndTheEntryUntilDisposed()
    {
        Mfn frame = _guest.P2m[5];
        _hv.Pool.Frame(frame)[7] = 0x5a;
        HostGrantMapping m = _hv.HostGrants.Map(_guest.Id, Rw, readOnly: false, out short status)!;
        Assert.Equal(Okay, status);
        using (PageAccess a = m.Open())
        {
            Assert.True(a.IsPresent);
            Assert.Equal(0x5a, a.Bytes[7]);
            a.Bytes[8] = 0xa5;
        }

        Assert.Equal(0xa5, _hv.Pool.Frame(frame)[8]);
        Assert.Equal(GtfPermitAccess | GtfReading | GtfWriting, Flags(Rw));
        Assert.Equal((PageType.Writable, 1u, 1u, 1u), (Info(frame).Type, Info(frame).TypeCount, Info(frame).RefCount, Info(frame).ForeignRefs));
        Assert.Equal(-XenErrno.EBUSY, _guest.Mmu.RemovePage(frame)); // the guest cannot give it back meanwhile
        Assert.Equal(-XenErrno.EINVAL, _guest.Mmu.Pin(frame, PageType.L1)); // nor make it a page table

        m.Dispose();
        m.Dispose();
        Assert.Equal(GtfPermitAccess, Flags(Rw));
        Assert.Equal((PageType.None, 0u, 0u, 0u), (Info(frame).Type, Info(frame).TypeCount, Info(frame).RefCount, Info(frame).ForeignRefs));
        using (PageAccess a = m.Open())
        {
            Assert.False(a.IsPresent);
        }

        Assert.Equal(0, _guest.Grants.PinnedEntries);
    }

    [Fact]
    public void AReadOnlyGrantMapsOnlyReadOnly()
    {
        Assert.Null(_hv.HostGrants.Map(_guest.Id, Ro, readOnly: false, out short status));
        Assert.Equal(GeneralError, status);
        Assert.Equal(GtfPermitAccess | GtfReadonly, Flags(Ro));
        using HostGrantMapping m = _hv.HostGrants.Map(_guest.Id, Ro, readOnly: true, out status)!;
        Assert.Equal(Okay, status);
        Assert.Equal(GtfPermitAccess | GtfReadonly | GtfReading, Flags(Ro));
        Assert.Equal((PageType.None, 1u), (Info(_guest.P2m[6]).Type, Info(_guest.P2m[6]).RefCount));
    }

    [Fact]
    public void GrantsThatAreNotDomain0sAreRefused()
    {
        Grant(10, GtfPermitAccess, 7, _guest.P2m[7]);            // granted to another domain
        Grant(11, GtfPermitAccess, 0, new Mfn(1));                // a frame that is not the guest's
        Assert.Null(_hv.HostGrants.Map(_guest.Id, 10, false, out short s1));
        Assert.Null(_hv.HostGrants.Map(_guest.Id, 11, false, out short s2));
        Assert.Null(_hv.HostGrants.Map(_guest.Id, 1_000_000, false, out short s3));
        Assert.Null(_hv.HostGrants.Map(999, Rw, false, out short s4));
        Assert.Equal((GeneralError, BadPage, BadGntref, BadDomain), (s1, s2, s3, s4));
        Assert.Equal((ushort)GtfPermitAccess, Flags(11));
    }

    [Fact]
    public void AGuestDestroyedWhileMappedLeavesTheFrameToTheMapping()
    {
        Mfn frame = _guest.P2m[5];
        _hv.Pool.Frame(frame)[0] = 0x33;
        HostGrantMapping m = _hv.HostGrants.Map(_guest.Id, Rw, false, out _)!;
        _hv.Destroy(_guest);
        Assert.Equal(1UL, _hv.Pool.OrphanedFrames);
        using (PageAccess a = m.Open())
        {
            Assert.Equal(0x33, a.Bytes[0]);
        }

        m.Dispose();
        Assert.Equal(0UL, _hv.Pool.OrphanedFrames);
        Assert.True(Info(frame).IsFree);
    }

    [Fact]
    public void ABackendCopiesThroughAGrantAndHoldsNothingAfterwards()
    {
        _hv.Pool.Frame(_guest.P2m[6])[100] = 0x61;
        var buffer = new byte[3];
        Assert.Equal(Okay, _hv.HostGrants.CopyFromGuest(_guest.Id, Ro, 99, buffer));
        Assert.Equal(new byte[] { 0, 0x61, 0 }, buffer);
        Assert.Equal(Okay, _hv.HostGrants.CopyToGuest(_guest.Id, Rw, 4093, [1, 2, 3]));
        Assert.Equal(new byte[] { 1, 2, 3 }, _hv.Pool.Frame(_guest.P2m[5])[4093..].ToArray());
        Assert.Equal(GeneralError, _hv.HostGrants.CopyToGuest(_guest.Id, Ro, 0, [9]));
        Assert.Equal(BadCopyArg, _hv.HostGrants.CopyToGuest(_guest.Id, Rw, 4094, [1, 2, 3]));
        Assert.Equal(BadCopyArg, _hv.HostGrants.CopyFromGuest(_guest.Id, Rw, -1, buffer));
        Assert.Equal((GtfPermitAccess, GtfPermitAccess | GtfReadonly), (Flags(Rw), Flags(Ro)));
        Assert.Equal((0u, 0u), (Info(_guest.P2m[5]).RefCount, Info(_guest.P2m[6]).RefCount));
    }
}
