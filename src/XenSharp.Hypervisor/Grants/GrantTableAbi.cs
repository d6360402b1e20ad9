namespace XenSharp.Hypervisor.Grants;

/// <summary>
/// The grant-table interface (xen/include/public/grant_table.h): grant_table_op commands, the layout of each command's
/// struct (x86-64), entry flags, map flags and the GNTST_* per-op statuses.
/// </summary>
internal static class GrantTableAbi
{
    // grant_table_op commands. Bits 12 and up of cmd carry a continuation argument (only cache_flush may have one).
    public const uint MapGrantRef = 0;
    public const uint UnmapGrantRef = 1;
    public const uint SetupTable = 2;
    public const uint DumpTable = 3;
    public const uint Transfer = 4;
    public const uint Copy = 5;
    public const uint QuerySize = 6;
    public const uint UnmapAndReplace = 7;
    public const uint SetVersion = 8;
    public const uint GetStatusFrames = 9;
    public const uint GetVersion = 10;
    public const uint SwapGrantRef = 11;
    public const uint CacheFlush = 12;

    /// <summary>GNTTABOP_CMD_MASK: the command; the bits above are the continuation argument.</summary>
    public const uint CommandMask = (1u << 12) - 1;

    /// <summary>DOMID_SELF (xen.h).</summary>
    public const ushort DomidSelf = 0x7ff0;

    /// <summary>GNTTAB_NR_RESERVED_ENTRIES: entries 0–7 belong to the toolstack (0 console, 1 xenstore).</summary>
    public const uint ReservedEntries = 8;

    /// <summary>struct gnttab_map_grant_ref: host_addr u64 @0, flags u32 @8, ref u32 @12, dom u16 @16, OUT status i16 @18, handle u32 @20, dev_bus_addr u64 @24.</summary>
    public const int MapSize = 32;
    public const int MapFlags = 8;
    public const int MapRef = 12;
    public const int MapDom = 16;
    public const int MapStatus = 18;
    public const int MapHandle = 20;
    public const int MapDevBusAddr = 24;

    /// <summary>struct gnttab_unmap_grant_ref: host_addr @0, dev_bus_addr @8, handle u32 @16, OUT status i16 @20.</summary>
    public const int UnmapSize = 24;
    public const int UnmapHandle = 16;
    public const int UnmapStatus = 20;

    /// <summary>struct gnttab_unmap_and_replace: host_addr @0, new_addr @8, handle u32 @16, OUT status i16 @20.</summary>
    public const int UnmapAndReplaceSize = 24;

    /// <summary>struct gnttab_setup_table: dom u16 @0, nr_frames u32 @4, OUT status i16 @8, frame_list (u64 handle) @16.</summary>
    public const int SetupTableSize = 24;
    public const int SetupTableNrFrames = 4;
    public const int SetupTableStatus = 8;
    public const int SetupTableFrameList = 16;

    /// <summary>struct gnttab_query_size: dom u16 @0, OUT nr_frames u32 @4, OUT max_nr_frames u32 @8, OUT status i16 @12.</summary>
    public const int QuerySizeSize = 16;
    public const int QuerySizeNrFrames = 4;
    public const int QuerySizeMaxNrFrames = 8;
    public const int QuerySizeStatus = 12;

    /// <summary>struct gnttab_set_version: IN/OUT version u32 @0.</summary>
    public const int SetVersionSize = 4;

    /// <summary>struct gnttab_get_status_frames: nr_frames u32 @0, dom u16 @4, OUT status i16 @6, frame_list (u64 handle) @8.</summary>
    public const int GetStatusFramesSize = 16;
    public const int GetStatusFramesDom = 4;
    public const int GetStatusFramesStatus = 6;
    public const int GetStatusFramesFrameList = 8;

    /// <summary>struct gnttab_get_version: dom u16 @0, pad u16 @2, OUT version u32 @4.</summary>
    public const int GetVersionSize = 8;
    public const int GetVersionVersion = 4;

    /// <summary>struct gnttab_swap_grant_ref: ref_a u32 @0, ref_b u32 @4, OUT status i16 @8.</summary>
    /// <summary>struct gnttab_copy: source {u (ref or gmfn) @0, domid @8, offset @10}, dest the same @16, len @32, flags @34, status @36.</summary>
    public const int CopySize = 40;
    public const int CopyDest = 16;
    public const int CopyPtrDomid = 8;
    public const int CopyPtrOffset = 10;
    public const int CopyLen = 32;
    public const int CopyFlags = 34;
    public const int CopyStatus = 36;

    /// <summary>GNTCOPY_source_gref / GNTCOPY_dest_gref: that side is a grant reference, else a frame of DOMID_SELF.</summary>
    public const ushort GntcopySourceGref = 1 << 0;
    public const ushort GntcopyDestGref = 1 << 1;

    public const int SwapSize = 12;
    public const int SwapStatus = 8;

    // Entry flags (grant_entry_v1.flags / grant_entry_header.flags).
    public const ushort GtfInvalid = 0;
    public const ushort GtfPermitAccess = 1;
    public const ushort GtfAcceptTransfer = 2;
    public const ushort GtfTransitive = 3;
    public const ushort GtfTypeMask = 3;
    public const ushort GtfReadonly = 1 << 2;
    public const ushort GtfReading = 1 << 3;
    public const ushort GtfWriting = 1 << 4;
    public const ushort GtfSubPage = 1 << 8;

    /// <summary>sizeof(grant_entry_v1_t): flags u16 @0, domid u16 @2, frame u32 @4.</summary>
    public const int EntryV1Size = 8;

    /// <summary>sizeof(grant_entry_v2_t): flags u16 @0, domid u16 @2, then full_page.frame u64 @8 (or sub_page / transitive).</summary>
    public const int EntryV2Size = 16;

    /// <summary>sizeof(grant_status_t): v2 keeps GTF_reading/GTF_writing in a separate u16 array.</summary>
    public const int StatusEntrySize = 2;

    // gnttab_map_grant_ref.flags.
    public const uint GntmapDeviceMap = 1 << 0;
    public const uint GntmapHostMap = 1 << 1;
    public const uint GntmapReadonly = 1 << 2;
    public const uint GntmapApplicationMap = 1 << 3;
    public const uint GntmapContainsPte = 1 << 4;

    /// <summary>_GNTMAP_guest_avail0: flag bits from here up are copied into the PTE's available bits (9–11).</summary>
    public const int GntmapGuestAvailShift = 16;

    // GNTST_*: per-op statuses, written into each op's status field (the hypercall itself returns 0).
    public const short Okay = 0;
    public const short GeneralError = -1;
    public const short BadDomain = -2;
    public const short BadGntref = -3;
    public const short BadHandle = -4;
    public const short BadVirtAddr = -5;
    public const short BadDevAddr = -6;
    public const short NoDeviceSpace = -7;
    public const short PermissionDenied = -8;
    public const short BadPage = -9;
    public const short BadCopyArg = -10;
    public const short AddressTooBig = -11;
    public const short Eagain = -12;
    public const short NoSpace = -13;
}
