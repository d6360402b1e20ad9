using System.Buffers.Binary;
using XenSharp.Abi;
using XenSharp.Hypervisor.Grants;
using XenSharp.Hypervisor.Memory;
using XenSharp.Tests.Mmu;
using Xunit;
using static XenSharp.Hypervisor.Grants.GrantTableAbi;

namespace XenSharp.Tests.Grants;

/// <summary>
/// A built domain on heap memory (through <see cref="MmuFixture"/>, so tests can also map frames as the guest does)
/// plus helpers that place grant_table_op structs in guest memory and read the results back from there.
/// </summary>
internal sealed class GrantFixture : IDisposable
{
    /// <summary>A one-op result: the hypercall's return value, the op's status, and any frames listed.</summary>
    public sealed record Result(long Rc, short Status, ulong[] Frames)
    {
        public (long Rc, short Status) Pair => (Rc, Status);
    }

    /// <summary>Guest VAs inside the initial writable mapping: the op struct(s) and the frame list.</summary>
    public const ulong Op = MmuFixture.Args;
    public const ulong List = MmuFixture.Aux;

    /// <summary>A user-half address no page table maps (the L4 slot is empty).</summary>
    public const ulong Unmapped = 1UL << 40;

    /// <summary>Addresses Xen's __addr_ok refuses: the non-canonical hole and the hypervisor's area.</summary>
    public const ulong NonCanonical = 0x0000800000000000;
    public const ulong HypervisorArea = 0xffff828000000000;

    public MmuFixture M { get; } = new();

    public GrantTable Gt => M.D.Grants;

    public ushort Id => M.D.Id;

    public void Dispose() => M.Dispose();

    public long Call(uint cmd, ulong uop, ulong count) => M.Call(HypercallNumber.GrantTableOp, cmd, uop, count);

    public static byte[] SetupStruct(ushort dom, uint nrFrames, ulong frameList)
    {
        var s = new byte[SetupTableSize];
        BinaryPrimitives.WriteUInt16LittleEndian(s, dom);
        BinaryPrimitives.WriteUInt32LittleEndian(s.AsSpan(SetupTableNrFrames), nrFrames);
        BinaryPrimitives.WriteInt16LittleEndian(s.AsSpan(SetupTableStatus), 0x5555);
        BinaryPrimitives.WriteUInt64LittleEndian(s.AsSpan(SetupTableFrameList), frameList);
        return s;
    }

    /// <summary>GNTTABOP_setup_table with its struct at <see cref="Op"/>: the result, the status and the frames listed.</summary>
    public Result Setup(ushort dom, uint nrFrames, ulong frameList = List)
    {
        M.Put(Op, SetupStruct(dom, nrFrames, frameList));
        if (frameList == List)
        {
            M.Put(List, new byte[8 * 64]);
        }

        long rc = Call(SetupTable, Op, 1);
        short status = BinaryPrimitives.ReadInt16LittleEndian(M.Get(Op + SetupTableStatus, 2));
        var frames = new ulong[Math.Min(nrFrames, 64u)];
        if (frameList == List)
        {
            byte[] l = M.Get(List, 8 * frames.Length);
            for (int i = 0; i < frames.Length; i++)
            {
                frames[i] = BinaryPrimitives.ReadUInt64LittleEndian(l.AsSpan(8 * i));
            }
        }

        return new Result(rc, status, frames);
    }

    public (long Rc, short Status, uint NrFrames, uint Max) QuerySize(ushort dom)
    {
        var s = new byte[QuerySizeSize];
        BinaryPrimitives.WriteUInt16LittleEndian(s, dom);
        BinaryPrimitives.WriteUInt32LittleEndian(s.AsSpan(QuerySizeNrFrames), 0xaaaa);
        BinaryPrimitives.WriteUInt32LittleEndian(s.AsSpan(QuerySizeMaxNrFrames), 0xbbbb);
        M.Put(Op, s);
        long rc = Call(GrantTableAbi.QuerySize, Op, 1);
        byte[] r = M.Get(Op, QuerySizeSize);
        return (rc, BinaryPrimitives.ReadInt16LittleEndian(r.AsSpan(QuerySizeStatus)),
            BinaryPrimitives.ReadUInt32LittleEndian(r.AsSpan(QuerySizeNrFrames)), BinaryPrimitives.ReadUInt32LittleEndian(r.AsSpan(QuerySizeMaxNrFrames)));
    }

    /// <summary>GNTTABOP_set_version: the result and the version written back.</summary>
    public (long Rc, uint Version) SetVersion(uint version)
    {
        var s = new byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(s, version);
        M.Put(Op, s);
        long rc = Call(GrantTableAbi.SetVersion, Op, 1);
        return (rc, BinaryPrimitives.ReadUInt32LittleEndian(M.Get(Op, 4)));
    }

    public (long Rc, uint Version) GetVersion(ushort dom)
    {
        var s = new byte[GetVersionSize];
        BinaryPrimitives.WriteUInt16LittleEndian(s, dom);
        BinaryPrimitives.WriteUInt32LittleEndian(s.AsSpan(GetVersionVersion), 0xcccc);
        M.Put(Op, s);
        long rc = Call(GrantTableAbi.GetVersion, Op, 1);
        return (rc, BinaryPrimitives.ReadUInt32LittleEndian(M.Get(Op + GetVersionVersion, 4)));
    }

    public Result StatusFrames(ushort dom, uint nrFrames, ulong frameList = List)
    {
        var s = new byte[GetStatusFramesSize];
        BinaryPrimitives.WriteUInt32LittleEndian(s, nrFrames);
        BinaryPrimitives.WriteUInt16LittleEndian(s.AsSpan(GetStatusFramesDom), dom);
        BinaryPrimitives.WriteInt16LittleEndian(s.AsSpan(GetStatusFramesStatus), 0x5555);
        BinaryPrimitives.WriteUInt64LittleEndian(s.AsSpan(GetStatusFramesFrameList), frameList);
        M.Put(Op, s);
        if (frameList == List)
        {
            M.Put(List, new byte[8 * 16]);
        }

        long rc = Call(GetStatusFrames, Op, 1);
        short status = BinaryPrimitives.ReadInt16LittleEndian(M.Get(Op + GetStatusFramesStatus, 2));
        var frames = new ulong[Math.Min(nrFrames, 16u)];
        if (frameList == List)
        {
            byte[] l = M.Get(List, 8 * frames.Length);
            for (int i = 0; i < frames.Length; i++)
            {
                frames[i] = BinaryPrimitives.ReadUInt64LittleEndian(l.AsSpan(8 * i));
            }
        }

        return new Result(rc, status, frames);
    }

    public static byte[] MapStruct(ulong hostAddr, uint flags, uint gref, ushort dom)
    {
        var s = new byte[MapSize];
        BinaryPrimitives.WriteUInt64LittleEndian(s, hostAddr);
        BinaryPrimitives.WriteUInt32LittleEndian(s.AsSpan(MapFlags), flags);
        BinaryPrimitives.WriteUInt32LittleEndian(s.AsSpan(MapRef), gref);
        BinaryPrimitives.WriteUInt16LittleEndian(s.AsSpan(MapDom), dom);
        BinaryPrimitives.WriteInt16LittleEndian(s.AsSpan(MapStatus), 0x5555);
        BinaryPrimitives.WriteUInt32LittleEndian(s.AsSpan(MapHandle), 0x77777777);
        BinaryPrimitives.WriteUInt64LittleEndian(s.AsSpan(MapDevBusAddr), 0x1234);
        return s;
    }

    /// <summary>One map_grant_ref: the result and the op's status.</summary>
    public (long Rc, short Status) Map(ulong hostAddr, uint flags, uint gref, ushort dom)
    {
        M.Put(Op, MapStruct(hostAddr, flags, gref, dom));
        long rc = Call(MapGrantRef, Op, 1);
        return (rc, BinaryPrimitives.ReadInt16LittleEndian(M.Get(Op + MapStatus, 2)));
    }

    /// <summary>One map_grant_ref: the result, the op's status, and the handle and bus address written back.</summary>
    public (long Rc, short Status, uint Handle, ulong BusAddr) MapFull(ulong hostAddr, uint flags, uint gref, ushort dom)
    {
        M.Put(Op, MapStruct(hostAddr, flags, gref, dom));
        long rc = Call(MapGrantRef, Op, 1);
        byte[] r = M.Get(Op, MapSize);
        return (rc, BinaryPrimitives.ReadInt16LittleEndian(r.AsSpan(MapStatus)), BinaryPrimitives.ReadUInt32LittleEndian(r.AsSpan(MapHandle)),
            BinaryPrimitives.ReadUInt64LittleEndian(r.AsSpan(MapDevBusAddr)));
    }

    /// <summary>A map that must succeed: its handle.</summary>
    public uint MapOk(ulong hostAddr, uint flags, uint gref, ushort dom)
    {
        (long rc, short status, uint handle, _) = MapFull(hostAddr, flags, gref, dom);
        Assert.Equal((0L, Okay), (rc, status));
        return handle;
    }

    public static byte[] UnmapStruct(ulong hostAddr, ulong second, uint handle)
    {
        var s = new byte[UnmapSize];
        BinaryPrimitives.WriteUInt64LittleEndian(s, hostAddr);
        BinaryPrimitives.WriteUInt64LittleEndian(s.AsSpan(8), second);
        BinaryPrimitives.WriteUInt32LittleEndian(s.AsSpan(UnmapHandle), handle);
        BinaryPrimitives.WriteInt16LittleEndian(s.AsSpan(UnmapStatus), 0x5555);
        return s;
    }

    /// <summary>One unmap_grant_ref: the result and the op's status.</summary>
    public (long Rc, short Status) Unmap(ulong hostAddr, ulong devBusAddr, uint handle)
    {
        M.Put(Op, UnmapStruct(hostAddr, devBusAddr, handle));
        long rc = Call(UnmapGrantRef, Op, 1);
        return (rc, BinaryPrimitives.ReadInt16LittleEndian(M.Get(Op + UnmapStatus, 2)));
    }

    /// <summary>One unmap_and_replace: the result and the op's status.</summary>
    public (long Rc, short Status) UnmapAndReplace(ulong hostAddr, ulong newAddr, uint handle)
    {
        M.Put(Op, UnmapStruct(hostAddr, newAddr, handle));
        long rc = Call(GrantTableAbi.UnmapAndReplace, Op, 1);
        return (rc, BinaryPrimitives.ReadInt16LittleEndian(M.Get(Op + UnmapStatus, 2)));
    }

    /// <summary>Writes v1 entry <paramref name="gref"/> straight into the shared frame, as the guest would through its mapping.</summary>
    public void WriteV1(uint gref, ushort flags, ushort domid, uint frame)
    {
        Span<byte> e = M.Pool.Memory.GetSpan(Gt.SharedFrame(gref / 512).Address + ((gref % 512) * 8), 8);
        BinaryPrimitives.WriteUInt16LittleEndian(e, flags);
        BinaryPrimitives.WriteUInt16LittleEndian(e[2..], domid);
        BinaryPrimitives.WriteUInt32LittleEndian(e[4..], frame);
    }

    public byte[] ReadV1(uint gref) => M.Pool.Memory.GetSpan(Gt.SharedFrame(gref / 512).Address + ((gref % 512) * 8), 8).ToArray();

    public Span<byte> V2Entry(uint gref) => M.Pool.Memory.GetSpan(Gt.SharedFrame(gref / 256).Address + ((gref % 256) * 16), 16);

    public Span<byte> StatusEntry(uint gref) => M.Pool.Memory.GetSpan(Gt.StatusFrame(gref / 2048).Address + ((gref % 2048) * 2), 2);

    /// <summary>Asserts <paramref name="mfn"/> is handed to the domain as Xen shares a page: owned, writable x1, ref 1, no M2P.</summary>
    public void AssertShared(Mfn mfn)
    {
        FrameInfo f = M.Frames[mfn];
        Assert.Equal((Id, PageType.Writable, 1u, 1u, false), (f.Owner, f.Type, f.TypeCount, f.RefCount, f.Pinned));
        Assert.Equal(MachinePool.InvalidM2pEntry, M.Pool.GetM2p(mfn));
    }

    public void AssertHeldByXen(Mfn mfn)
    {
        FrameInfo f = M.Frames[mfn];
        Assert.Equal((FrameOwner.Xen, PageType.None, 0u, 0u), (f.Owner, f.Type, f.TypeCount, f.RefCount));
        Assert.True(M.Pool.Frame(mfn).IndexOfAnyExcept((byte)0) < 0, $"{mfn} is not zero");
    }
}
