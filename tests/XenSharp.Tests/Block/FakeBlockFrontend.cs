using System.Buffers.Binary;
using XenSharp.Abi;
using XenSharp.Backends.Block;
using XenSharp.Backends.Xenstore;
using XenSharp.Hypervisor;
using XenSharp.Hypervisor.Domains;
using XenSharp.Hypervisor.Memory;
using XenSharp.Tests.Builder;
using Xunit;
using static XenSharp.Hypervisor.Grants.GrantTableAbi;

namespace XenSharp.Tests.Block;

/// <summary>
/// A guest's blkfront played by the test: a domain in heap memory whose grant table offers the ring pages (grants
/// 1..16) and data pages (grants 32.., writable; 100, read-only) to domain 0; the backend's nodes written as the
/// toolstack does; requests put into the ring page by hand. The backend runs without a thread: <see cref="Pass"/>
/// runs one of its passes.
/// </summary>
internal sealed class FakeBlockFrontend : IDisposable
{
    public const uint FirstRingRef = 1;
    public const uint FirstDataRef = 32;
    public const uint ReadOnlyRef = 100;
    public const int DataPages = 40;
    public const string Backend = "/local/domain/0/backend/vbd/1/51712";

    private readonly bool _ownsImage;
    private uint _reqProd;

    /// <param name="imagePath">An existing image to serve (kept at dispose); else a new one of <paramref name="sectors"/> or <paramref name="contents"/>, deleted at dispose.</param>
    public FakeBlockFrontend(long sectors = 256, bool readOnly = false, bool discard = true, byte[]? contents = null, string? imagePath = null)
    {
        Hv = TestDomains.Hypervisor(Log);
        Guest = Hv.CreateDomain("guest", 1, 512, new CapturingConsole());
        Frontend = $"/local/domain/{Guest.Id}/device/vbd/51712";
        for (uint i = 0; i < 16; i++)
        {
            Grant(FirstRingRef + i, GtfPermitAccess, Guest.P2m[10 + i]);
        }

        for (uint i = 0; i < DataPages; i++)
        {
            Grant(FirstDataRef + i, GtfPermitAccess, Guest.P2m[40 + i]);
        }

        Grant(ReadOnlyRef, GtfPermitAccess | GtfReadonly, Guest.P2m[90]);
        _ownsImage = imagePath is null;
        ImagePath = imagePath ?? Path.Combine(Path.GetTempPath(), $"xensharp-blk-{Guid.NewGuid():N}.img");
        if (_ownsImage)
        {
            File.WriteAllBytes(ImagePath, contents ?? new byte[sectors * 512]);
        }

        Port = Guest.Events.AllocUnbound(0);
        Dom0 = Store.Connect(0);
        Dom0.Write($"{Backend}/frontend", Frontend);
        Dom0.Write($"{Backend}/frontend-id", Guest.Id.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Dom0.Write($"{Backend}/state", "1");
        Dom0.Write($"{Frontend}/state", "1");
        Backend_ = BlockBackend.Attach(Hv, Store, Backend, BlockImage.Open(ImagePath, readOnly), discard, Timeout.InfiniteTimeSpan, ownThread: false);
    }

    public StringWriter Log { get; } = new();

    public XenHypervisor Hv { get; }

    public Domain Guest { get; }

    public XenStore Store { get; } = new();

    public XsClient Dom0 { get; }

    public string Frontend { get; }

    public string ImagePath { get; }

    public int Port { get; }

    public BlockBackend Backend_ { get; }

    public uint RingSize { get; private set; } = 32;

    public Span<byte> RingPage(int i = 0) => Hv.Pool.Frame(Guest.P2m[10 + (ulong)i]);

    public Span<byte> DataPage(int i) => Hv.Pool.Frame(Guest.P2m[40 + (ulong)i]);

    public Span<byte> ReadOnlyPage => Hv.Pool.Frame(Guest.P2m[90]);

    public string? Node(string relative) => Dom0.Read($"{Backend}/{relative}");

    public XenbusState BackendState => (XenbusState)int.Parse(Node("state")!, System.Globalization.CultureInfo.InvariantCulture);

    public void Pass() => Backend_.Service();

    /// <summary>SHARED_RING_INIT on the ring pages, the frontend's nodes (one page unless <paramref name="order"/>), state Initialised, one pass.</summary>
    public void Connect(int? order = null, uint start = 0, bool persistent = false)
    {
        if (persistent)
        {
            Dom0.Write($"{Frontend}/feature-persistent", "1"); // as Linux's blkfront writes it
        }

        int pages = 1 << (order ?? 0);
        for (int i = 0; i < pages; i++)
        {
            RingPage(i).Clear();
        }

        Header(SharedRingLayout.ReqProd, start);
        Header(SharedRingLayout.RspProd, start);
        Header(SharedRingLayout.ReqEvent, start + 1);
        Header(SharedRingLayout.RspEvent, start + 1);
        _reqProd = start;
        RingSize = SharedRingLayout.Size(pages * 4096, BlkifLayout.SlotSize);
        if (order is int o)
        {
            Dom0.Write($"{Frontend}/ring-page-order", o.ToString(System.Globalization.CultureInfo.InvariantCulture));
            for (int i = 0; i < pages; i++)
            {
                Dom0.Write($"{Frontend}/ring-ref{i}", (FirstRingRef + (uint)i).ToString(System.Globalization.CultureInfo.InvariantCulture));
            }
        }
        else
        {
            Dom0.Write($"{Frontend}/ring-ref", FirstRingRef.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }

        Dom0.Write($"{Frontend}/event-channel", Port.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Dom0.Write($"{Frontend}/protocol", BlkifLayout.Protocol);
        SetState(XenbusState.Initialised);
    }

    public void SetState(XenbusState state)
    {
        Dom0.Write($"{Frontend}/state", ((int)state).ToString(System.Globalization.CultureInfo.InvariantCulture));
        Pass();
    }

    public uint Header(int offset) => BinaryPrimitives.ReadUInt32LittleEndian(RingPage()[offset..]);

    public void Header(int offset, uint value) => BinaryPrimitives.WriteUInt32LittleEndian(RingPage()[offset..], value);

    /// <summary>A read/write-shaped request (read, write, barrier, flush) with its segments (grant, first, last).</summary>
    public static byte[] Request(byte op, ulong id, ulong sector, params (uint Gref, byte First, byte Last)[] segments)
    {
        var r = new byte[BlkifLayout.SlotSize];
        r[BlkifLayout.Operation] = op;
        r[BlkifLayout.NrSegments] = (byte)segments.Length;
        BinaryPrimitives.WriteUInt16LittleEndian(r.AsSpan(BlkifLayout.Handle), 51712);
        BinaryPrimitives.WriteUInt64LittleEndian(r.AsSpan(BlkifLayout.Id), id);
        BinaryPrimitives.WriteUInt64LittleEndian(r.AsSpan(BlkifLayout.SectorNumber), sector);
        for (int i = 0; i < segments.Length && i < BlkifLayout.MaxSegments; i++)
        {
            Span<byte> s = r.AsSpan(BlkifLayout.Segments + (i * BlkifLayout.SegmentSize));
            BinaryPrimitives.WriteUInt32LittleEndian(s, segments[i].Gref);
            s[BlkifLayout.SegmentFirstSect] = segments[i].First;
            s[BlkifLayout.SegmentLastSect] = segments[i].Last;
        }

        return r;
    }

    public static byte[] Discard(ulong id, ulong sector, ulong count)
    {
        var r = new byte[BlkifLayout.SlotSize];
        r[BlkifLayout.Operation] = BlkifLayout.OpDiscard;
        BinaryPrimitives.WriteUInt64LittleEndian(r.AsSpan(BlkifLayout.Id), id);
        BinaryPrimitives.WriteUInt64LittleEndian(r.AsSpan(BlkifLayout.SectorNumber), sector);
        BinaryPrimitives.WriteUInt64LittleEndian(r.AsSpan(BlkifLayout.DiscardNrSectors), count);
        return r;
    }

    public static byte[] Indirect(byte op, ulong id, ulong sector, ushort count, params uint[] indirectRefs)
    {
        var r = new byte[BlkifLayout.SlotSize];
        r[BlkifLayout.Operation] = BlkifLayout.OpIndirect;
        r[BlkifLayout.IndirectOp] = op;
        BinaryPrimitives.WriteUInt16LittleEndian(r.AsSpan(BlkifLayout.IndirectNrSegments), count);
        BinaryPrimitives.WriteUInt64LittleEndian(r.AsSpan(BlkifLayout.Id), id);
        BinaryPrimitives.WriteUInt64LittleEndian(r.AsSpan(BlkifLayout.SectorNumber), sector);
        for (int i = 0; i < indirectRefs.Length; i++)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(r.AsSpan(BlkifLayout.IndirectGrefs + (4 * i)), indirectRefs[i]);
        }

        return r;
    }

    /// <summary>Puts requests in the next slots and publishes them, without a pass.</summary>
    public void Publish(params byte[][] requests)
    {
        foreach (byte[] r in requests)
        {
            WriteSlot(_reqProd++, r);
        }

        Header(SharedRingLayout.ReqProd, _reqProd);
    }

    /// <summary>Puts requests in the next slots, publishes them, runs a pass, and returns their responses (id, op, status).</summary>
    public List<(ulong Id, byte Op, short Status)> Submit(params byte[][] requests)
    {
        uint first = _reqProd;
        Publish(requests);
        Pass();
        var responses = new List<(ulong, byte, short)>();
        for (uint i = first; i != Header(SharedRingLayout.RspProd); i++)
        {
            byte[] s = ReadSlot(i, BlkifLayout.ResponseSize);
            responses.Add((BinaryPrimitives.ReadUInt64LittleEndian(s), s[BlkifLayout.ResponseOperation], BinaryPrimitives.ReadInt16LittleEndian(s.AsSpan(BlkifLayout.ResponseStatus))));
        }

        return responses;
    }

    /// <summary>One request's response status.</summary>
    public short Status(byte[] request) => Submit(request).Single().Status;

    /// <summary>Publishes a req_prod of the frontend's choosing (for hostile indices) and runs a pass.</summary>
    public void PublishRaw(uint reqProd)
    {
        Header(SharedRingLayout.ReqProd, reqProd);
        Pass();
    }

    public byte[] ImageBytes()
    {
        var b = new byte[Backend_.Image.Sectors * 512];
        Assert.True(Backend_.Image.Read(b, 0));
        return b;
    }

    public void Dispose()
    {
        Backend_.Dispose();
        Hv.Dispose();
        if (_ownsImage)
        {
            File.Delete(ImagePath);
        }
    }

    private void WriteSlot(uint index, byte[] r) => CopySlot(index, r, toRing: true);

    private byte[] ReadSlot(uint index, int length)
    {
        var b = new byte[length];
        CopySlot(index, b, toRing: false);
        return b;
    }

    // Slots may straddle ring pages; the pages are contiguous only in the frontend's view.
    private void CopySlot(uint index, byte[] buffer, bool toRing)
    {
        long offset = SharedRingLayout.Slots + ((long)(index & (RingSize - 1)) * BlkifLayout.SlotSize);
        for (int i = 0; i < buffer.Length; i++)
        {
            long at = offset + i;
            Span<byte> page = RingPage((int)(at / 4096));
            if (toRing)
            {
                page[(int)(at % 4096)] = buffer[i];
            }
            else
            {
                buffer[i] = page[(int)(at % 4096)];
            }
        }
    }

    /// <summary>Writes grant entry <paramref name="gref"/> as the guest does (v1: flags, domid 0, frame); flags 0 ends access.</summary>
    public void Grant(uint gref, ushort flags, Mfn frame)
    {
        const uint perFrame = XenSharp.Hypervisor.Grants.GrantTable.EntriesPerFrameV1;
        Span<byte> e = Hv.Pool.Memory.GetSpan(Guest.Grants.SharedFrame(gref / perFrame).Address + ((gref % perFrame) * 8), 8);
        BinaryPrimitives.WriteUInt16LittleEndian(e[2..], 0);
        BinaryPrimitives.WriteUInt32LittleEndian(e[4..], (uint)frame.Value);
        BinaryPrimitives.WriteUInt16LittleEndian(e, flags);
    }
}
