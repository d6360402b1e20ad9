using System.Buffers.Binary;
using XenSharp.Abi;
using XenSharp.Hypervisor.Domains;
using XenSharp.Hypervisor.Grants;
using XenSharp.Hypervisor.Memory;
using XenSharp.Tests.Builder;
using Xunit;
using static XenSharp.Hypervisor.Grants.GrantTableAbi;

namespace XenSharp.Tests.Grants;

/// <summary>GNTTABOP_copy (public/grant_table.h gnttab_copy): between grants and the caller's own frames, checked as Xen checks it.</summary>
public sealed class GrantCopyTests : IDisposable
{
    private const uint Rw = 8;
    private const uint Ro = 9;
    private const uint Other = 10;
    private readonly GrantFixture _f = new();
    private readonly Domain _granter;

    public GrantCopyTests()
    {
        _granter = _f.M.Hv.CreateDomain("granter", 1, 512, new CapturingConsole());
        Grant(Rw, GtfPermitAccess, _f.Id, _granter.P2m[5]);
        Grant(Ro, GtfPermitAccess | GtfReadonly, _f.Id, _granter.P2m[6]);
        Grant(Other, GtfPermitAccess, (ushort)(_f.Id + 100), _granter.P2m[7]);
    }

    public void Dispose() => _f.Dispose();

    private Span<byte> Entry(uint gref) => _f.M.Pool.Memory.GetSpan(_granter.Grants.SharedFrame(0).Address + (gref * 8), 8);

    private void Grant(uint gref, ushort flags, ushort domid, Mfn frame)
    {
        Span<byte> e = Entry(gref);
        BinaryPrimitives.WriteUInt16LittleEndian(e[2..], domid);
        BinaryPrimitives.WriteUInt32LittleEndian(e[4..], (uint)frame.Value);
        BinaryPrimitives.WriteUInt16LittleEndian(e, flags);
    }

    private ushort Flags(uint gref) => BinaryPrimitives.ReadUInt16LittleEndian(Entry(gref));

    private Span<byte> Bytes(Mfn frame) => _f.M.Pool.Frame(frame);

    private static byte[] CopyStruct(ulong src, ushort srcDom, ushort srcOff, ulong dst, ushort dstDom, ushort dstOff, ushort len, ushort flags)
    {
        var op = new byte[CopySize];
        BinaryPrimitives.WriteUInt64LittleEndian(op, src);
        BinaryPrimitives.WriteUInt16LittleEndian(op.AsSpan(CopyPtrDomid), srcDom);
        BinaryPrimitives.WriteUInt16LittleEndian(op.AsSpan(CopyPtrOffset), srcOff);
        BinaryPrimitives.WriteUInt64LittleEndian(op.AsSpan(CopyDest), dst);
        BinaryPrimitives.WriteUInt16LittleEndian(op.AsSpan(CopyDest + CopyPtrDomid), dstDom);
        BinaryPrimitives.WriteUInt16LittleEndian(op.AsSpan(CopyDest + CopyPtrOffset), dstOff);
        BinaryPrimitives.WriteUInt16LittleEndian(op.AsSpan(CopyLen), len);
        BinaryPrimitives.WriteUInt16LittleEndian(op.AsSpan(CopyFlags), flags);
        BinaryPrimitives.WriteInt16LittleEndian(op.AsSpan(CopyStatus), 0x5555);
        return op;
    }

    private (long Rc, short Status) Copy(byte[] op)
    {
        _f.M.Put(GrantFixture.Op, op);
        long rc = _f.Call(GrantTableAbi.Copy, GrantFixture.Op, 1);
        return (rc, BinaryPrimitives.ReadInt16LittleEndian(_f.M.Get(GrantFixture.Op + CopyStatus, 2)));
    }

    [Fact]
    public void CopiesFromAForeignGrantIntoAnOwnFrameAndLeavesNothingHeld()
    {
        Mfn src = _granter.P2m[5];
        Mfn dst = _f.M.Free(0);
        for (int i = 0; i < 64; i++)
        {
            Bytes(src)[100 + i] = (byte)(i + 1);
        }

        ulong refWithJunkAbove = 0xdeadbeef_00000000UL | Rw; // grant_ref_t is the union's low half
        Assert.Equal((0L, Okay), Copy(CopyStruct(refWithJunkAbove, _granter.Id, 100, dst.Value, DomidSelf, 3000, 64, GntcopySourceGref)));
        Assert.Equal(Bytes(src).Slice(100, 64).ToArray(), Bytes(dst).Slice(3000, 64).ToArray());
        Assert.Equal(0, Bytes(dst)[2999]);
        Assert.Equal(0, Bytes(dst)[3064]);
        Assert.Equal(GtfPermitAccess, Flags(Rw)); // GTF_reading only during the copy
        Assert.Equal((0u, 0u), (_f.M.Frames[src].RefCount, _f.M.Frames[dst].RefCount));
        Assert.Equal(0, _granter.Grants.PinnedEntries);
    }

    [Fact]
    public void CopiesFromAnOwnFrameIntoAForeignGrant()
    {
        Mfn src = _f.M.Free(1);
        Mfn dst = _granter.P2m[5];
        Bytes(src)[..4096].Fill(0xab);
        Assert.Equal((0L, Okay), Copy(CopyStruct(src.Value, DomidSelf, 0, Rw, _granter.Id, 96, 4000, GntcopyDestGref)));
        Assert.Equal(0, Bytes(dst)[95]);
        Assert.True(Bytes(dst).Slice(96, 4000).IndexOfAnyExcept((byte)0xab) < 0);
        Assert.Equal(GtfPermitAccess, Flags(Rw));
        Assert.Equal((PageType.None, 0u, 0u), (_f.M.Frames[dst].Type, _f.M.Frames[dst].TypeCount, _f.M.Frames[dst].RefCount));
    }

    [Fact]
    public void GrantToGrantAndOwnFrameToOwnFrameWork()
    {
        Bytes(_granter.P2m[6])[0] = 0x42;
        Assert.Equal((0L, Okay), Copy(CopyStruct(Ro, _granter.Id, 0, Rw, _granter.Id, 1, 1, GntcopySourceGref | GntcopyDestGref)));
        Assert.Equal(0x42, Bytes(_granter.P2m[5])[1]);

        Bytes(_f.M.Free(2))[10] = 0x17;
        Assert.Equal((0L, Okay), Copy(CopyStruct(_f.M.Free(2).Value, DomidSelf, 10, _f.M.Free(2).Value, DomidSelf, 11, 1, 0)));
        Assert.Equal(0x17, Bytes(_f.M.Free(2))[11]);
    }

    [Theory]
    [InlineData(4000, 0, 97)]
    [InlineData(0, 4095, 2)]
    public void ARangeThatCrossesItsPageIsABadCopyArg(int srcOff, int dstOff, int len)
    {
        Assert.Equal((0L, BadCopyArg), Copy(CopyStruct(Rw, _granter.Id, (ushort)srcOff, _f.M.Free(0).Value, DomidSelf, (ushort)dstOff, (ushort)len, GntcopySourceGref)));
    }

    [Fact]
    public void OnlyDomidSelfMayNameAFrame()
    {
        Bytes(_granter.P2m[5])[0] = 0x99;
        Assert.Equal((0L, PermissionDenied), Copy(CopyStruct(_granter.P2m[5].Value, _granter.Id, 0, _f.M.Free(0).Value, DomidSelf, 0, 1, 0)));
        Assert.Equal(0, Bytes(_f.M.Free(0))[0]);
        // DOMID_SELF with a frame the caller does not own.
        Assert.Equal((0L, BadPage), Copy(CopyStruct(_granter.P2m[5].Value, DomidSelf, 0, _f.M.Free(0).Value, DomidSelf, 0, 1, 0)));
        Assert.Equal((0L, BadPage), Copy(CopyStruct(ulong.MaxValue >> 12, DomidSelf, 0, _f.M.Free(0).Value, DomidSelf, 0, 1, 0)));
        Assert.Equal(0, Bytes(_f.M.Free(0))[0]);
    }

    [Fact]
    public void TheDestMustBeWritable()
    {
        Bytes(_f.M.Free(0))[0] = 0x77;
        byte before = Bytes(_granter.P2m[6])[0];
        Assert.Equal((0L, GeneralError), Copy(CopyStruct(_f.M.Free(0).Value, DomidSelf, 0, Ro, _granter.Id, 0, 1, GntcopyDestGref)));
        Assert.Equal(before, Bytes(_granter.P2m[6])[0]);
        Assert.Equal(GtfPermitAccess | GtfReadonly, Flags(Ro));

        // An own page table cannot be written through a copy (it would bypass the validator).
        ulong entry = _f.M.Entries(_f.M.InitialL1)[0];
        Bytes(_f.M.Free(0))[..8].Fill(0xff);
        Assert.Equal((0L, BadPage), Copy(CopyStruct(_f.M.Free(0).Value, DomidSelf, 0, _f.M.InitialL1.Value, DomidSelf, 0, 8, 0)));
        Assert.Equal(entry, _f.M.Entries(_f.M.InitialL1)[0]);
        Assert.Equal(0u, _f.M.Frames[_f.M.Free(0)].RefCount);
    }

    [Fact]
    public void BadDomainsRefsAndGrantsToOthersFail()
    {
        Mfn dst = _f.M.Free(0);
        Assert.Equal((0L, BadDomain), Copy(CopyStruct(Rw, 999, 0, dst.Value, DomidSelf, 0, 1, GntcopySourceGref)));
        Assert.Equal((0L, BadGntref), Copy(CopyStruct(1_000_000, _granter.Id, 0, dst.Value, DomidSelf, 0, 1, GntcopySourceGref)));
        Assert.Equal((0L, GeneralError), Copy(CopyStruct(Other, _granter.Id, 0, dst.Value, DomidSelf, 0, 1, GntcopySourceGref)));
        Assert.Equal(GtfPermitAccess, Flags(Other));
        // A failed dest gives back what the source took.
        Assert.Equal((0L, GeneralError), Copy(CopyStruct(Rw, _granter.Id, 0, Ro, _granter.Id, 0, 1, GntcopySourceGref | GntcopyDestGref)));
        Assert.Equal(GtfPermitAccess, Flags(Rw));
        Assert.Equal(0u, _f.M.Frames[_granter.P2m[5]].RefCount);
    }

    [Fact]
    public void EachOpOfABatchGetsItsOwnStatus()
    {
        byte[] ops = [.. CopyStruct(Rw, _granter.Id, 0, _f.M.Free(0).Value, DomidSelf, 0, 1, GntcopySourceGref),
            .. CopyStruct(Rw, 999, 0, _f.M.Free(0).Value, DomidSelf, 0, 1, GntcopySourceGref)];
        _f.M.Put(GrantFixture.Op, ops);
        Assert.Equal(0L, _f.Call(GrantTableAbi.Copy, GrantFixture.Op, 2));
        Assert.Equal(Okay, BinaryPrimitives.ReadInt16LittleEndian(_f.M.Get(GrantFixture.Op + CopyStatus, 2)));
        Assert.Equal(BadDomain, BinaryPrimitives.ReadInt16LittleEndian(_f.M.Get(GrantFixture.Op + CopySize + CopyStatus, 2)));
        Assert.Equal(-XenErrno.EFAULT, _f.Call(GrantTableAbi.Copy, GrantFixture.NonCanonical, 1));
    }
}
