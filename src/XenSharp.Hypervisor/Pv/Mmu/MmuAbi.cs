namespace XenSharp.Hypervisor.Pv.Mmu;

/// <summary>
/// Constants of the PV MMU interface (xen/include/public/xen.h): mmu_update commands, mmuext_op commands,
/// update_va_mapping flags, and the domain ids the foreigndom arguments may name.
/// </summary>
internal static class MmuAbi
{
    // mmu_update: the command is in the low bits of ptr.
    public const int MmuNormalPtUpdate = 0;
    public const int MmuMachphysUpdate = 1;
    public const int MmuPtUpdatePreserveAd = 2;
    public const int MmuPtUpdateNoTranslate = 3;

    /// <summary>Set in count by a continuation: the rest of the batch, with *pdone carrying what was done.</summary>
    public const uint MmuUpdatePreempted = 0x8000_0000;

    /// <summary>sizeof(struct mmu_update) and sizeof(struct mmuext_op).</summary>
    public const int MmuUpdateSize = 16;
    public const int MmuextOpSize = 24;

    // mmuext_op commands.
    public const uint PinL1Table = 0;
    public const uint PinL2Table = 1;
    public const uint PinL3Table = 2;
    public const uint PinL4Table = 3;
    public const uint UnpinTable = 4;
    public const uint NewBasePtr = 5;
    public const uint TlbFlushLocal = 6;
    public const uint InvlpgLocal = 7;
    public const uint TlbFlushMulti = 8;
    public const uint InvlpgMulti = 9;
    public const uint TlbFlushAll = 10;
    public const uint InvlpgAll = 11;
    public const uint FlushCache = 12;
    public const uint SetLdt = 13;
    public const uint NewUserBasePtr = 15;
    public const uint ClearPage = 16;
    public const uint CopyPage = 17;
    public const uint FlushCacheGlobal = 18;
    public const uint MarkSuper = 19;
    public const uint UnmarkSuper = 20;

    // update_va_mapping flags: the low two bits say what to flush, the rest which vCPUs.
    public const ulong UvmfNone = 0;
    public const ulong UvmfTlbFlush = 1;
    public const ulong UvmfInvlpg = 2;
    public const ulong UvmfFlushTypeMask = 3;
    public const ulong UvmfLocal = 0;
    public const ulong UvmfAll = 4;

    // Domain ids (xen.h).
    public const ushort DomidSelf = 0x7ff0;
    public const ushort DomidIo = 0x7ff1;
    public const ushort DomidXen = 0x7ff2;

    /// <summary>Largest LDT (entries) MMUEXT_SET_LDT accepts.</summary>
    public const uint MaxLdtEntries = 8192;
}
