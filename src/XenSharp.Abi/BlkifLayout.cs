namespace XenSharp.Abi;

/// <summary>
/// The block interface of io/blkif.h for the x86_64 ABI ("x86_64-abi"): request and response layouts, operations,
/// statuses and limits. A ring slot is 112 bytes (the read/write request with its 11 segments), so a one-page ring
/// holds 32 requests.
/// </summary>
public static class BlkifLayout
{
    public const string Protocol = "x86_64-abi";

    public const byte OpRead = 0;
    public const byte OpWrite = 1;
    public const byte OpWriteBarrier = 2;
    public const byte OpFlushDiskCache = 3;
    public const byte OpReserved1 = 4;
    public const byte OpDiscard = 5;
    public const byte OpIndirect = 6;

    public const short RspEopnotsupp = -2;
    public const short RspError = -1;
    public const short RspOkay = 0;

    public const int SectorSize = 512;
    public const int SectorsPerPage = 4096 / SectorSize;

    /// <summary>BLKIF_MAX_SEGMENTS_PER_REQUEST: segments inside a direct request.</summary>
    public const int MaxSegments = 11;

    /// <summary>BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST.</summary>
    public const int MaxIndirectPages = 8;

    /// <summary>Segment descriptors in one indirect page (8 bytes each).</summary>
    public const int SegmentsPerIndirectPage = 4096 / SegmentSize;

    public const int SlotSize = 112;
    public const int ResponseSize = 16;

    // Every request: operation first, the guest's id at 8.
    public const int Operation = 0;
    public const int Id = 8;

    // Read/write (and barrier, flush): struct blkif_request.
    public const int NrSegments = 1;
    public const int Handle = 2;
    public const int SectorNumber = 16;
    public const int Segments = 24;

    // struct blkif_request_segment: the grant, first and last 512-byte sector within the page.
    public const int SegmentSize = 8;
    public const int SegmentGref = 0;
    public const int SegmentFirstSect = 4;
    public const int SegmentLastSect = 5;

    // struct blkif_request_discard.
    public const int DiscardFlag = 1;
    public const int DiscardNrSectors = 24;
    public const byte DiscardSecure = 1;

    // struct blkif_request_indirect.
    public const int IndirectOp = 1;
    public const int IndirectNrSegments = 2;
    public const int IndirectHandle = 24;
    public const int IndirectGrefs = 28;

    // struct blkif_response.
    public const int ResponseId = 0;
    public const int ResponseOperation = 8;
    public const int ResponseStatus = 10;

    // The "info" node's bits (VDISK_*).
    public const uint VdiskCdrom = 1;
    public const uint VdiskRemovable = 2;
    public const uint VdiskReadonly = 4;
}
