using System.Buffers.Binary;
using XenSharp.Abi;

namespace XenSharp.Backends.Block;

/// <summary>
/// One virtual block device's statistics, as Linux's blkback keeps them (its sysfs `statistics/`, which xentop shows as
/// VBD_OO, VBD_RD, VBD_WR, VBD_RSECT, VBD_WSECT): read and write requests (an indirect one by its inner operation; a
/// write barrier or cache flush counts as a flush, not a write), and the sectors moved by those that succeeded (a
/// barrier or flush with data adds to the written ones, as its bio is a write). Invariant: written only on the device's
/// loop, read from any thread (each counter read atomically).
/// </summary>
public sealed class BlockCounters
{
    private long _readRequests;
    private long _writeRequests;
    private long _flushRequests;
    private long _readSectors;
    private long _writeSectors;

    /// <summary>BLKIF_OP_READ requests (rd_req).</summary>
    public long ReadRequests => Interlocked.Read(ref _readRequests);

    /// <summary>BLKIF_OP_WRITE requests (wr_req).</summary>
    public long WriteRequests => Interlocked.Read(ref _writeRequests);

    /// <summary>Write barriers and cache flushes (f_req).</summary>
    public long FlushRequests => Interlocked.Read(ref _flushRequests);

    /// <summary>Sectors read (rd_sect).</summary>
    public long ReadSectors => Interlocked.Read(ref _readSectors);

    /// <summary>Sectors written (wr_sect).</summary>
    public long WriteSectors => Interlocked.Read(ref _writeSectors);

    /// <summary>
    /// Requests that waited for a free slot (oo_req): always 0 here, as requests are served one at a time, straight
    /// from the ring, and never wait for one.
    /// </summary>
    public long OutOfRequests => 0;

    /// <summary>Counts one answered request: its slot, the operation answered, the status, and its segments (valid when it succeeded).</summary>
    internal void Count(ReadOnlySpan<byte> slot, byte op, short status, ReadOnlySpan<BlockSegment> segments)
    {
        switch (op)
        {
            case BlkifLayout.OpRead:
                Interlocked.Increment(ref _readRequests);
                break;
            case BlkifLayout.OpWrite:
                Interlocked.Increment(ref _writeRequests);
                break;
            case BlkifLayout.OpWriteBarrier or BlkifLayout.OpFlushDiskCache:
                Interlocked.Increment(ref _flushRequests);
                break;
            default:
                return;
        }

        if (status != BlkifLayout.RspOkay)
        {
            return;
        }

        int count = slot[BlkifLayout.Operation] == BlkifLayout.OpIndirect
            ? BinaryPrimitives.ReadUInt16LittleEndian(slot[BlkifLayout.IndirectNrSegments..])
            : slot[BlkifLayout.NrSegments];
        long sectors = 0;
        for (int i = 0; i < count && i < segments.Length; i++)
        {
            sectors += segments[i].Sectors;
        }

        Interlocked.Add(ref op == BlkifLayout.OpRead ? ref _readSectors : ref _writeSectors, sectors);
    }
}
