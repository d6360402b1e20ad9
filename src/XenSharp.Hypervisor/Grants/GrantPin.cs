namespace XenSharp.Hypervisor.Grants;

/// <summary>
/// An active grant entry's pin: four 8-bit counts of the mappings that use the entry — host writable, host read-only,
/// device writable, device read-only — packed in one word as Xen packs them, so "pinned at all" is one test and a
/// request's increment is one add. A count may not reach its top bit (Xen's overflow guard), so it never wraps.
/// </summary>
internal static class GrantPin
{
    public const int FieldBits = 8;
    public const uint FieldMask = (1u << FieldBits) - 1;

    public const uint HostWrite = 1u << 0;
    public const uint HostRead = 1u << FieldBits;
    public const uint DeviceWrite = 1u << (2 * FieldBits);
    public const uint DeviceRead = 1u << (3 * FieldBits);

    public const uint HostWriteMask = FieldMask * HostWrite;
    public const uint HostReadMask = FieldMask * HostRead;
    public const uint DeviceWriteMask = FieldMask * DeviceWrite;
    public const uint DeviceReadMask = FieldMask * DeviceRead;

    /// <summary>Pins that need the frame writable: while any is held the entry keeps GTF_writing.</summary>
    public const uint WriteMask = HostWriteMask | DeviceWriteMask;

    /// <summary>What one map request with GNTMAP_* <paramref name="flags"/> adds: 0 when it asks for neither mapping.</summary>
    public static uint Increment(uint flags)
    {
        bool ro = (flags & GrantTableAbi.GntmapReadonly) != 0;
        uint inc = 0;
        if ((flags & GrantTableAbi.GntmapDeviceMap) != 0)
        {
            inc += ro ? DeviceRead : DeviceWrite;
        }

        if ((flags & GrantTableAbi.GntmapHostMap) != 0)
        {
            inc += ro ? HostRead : HostWrite;
        }

        return inc;
    }

    /// <summary>True when adding <paramref name="increment"/> could carry a count into its top bit.</summary>
    public static bool WouldOverflow(uint pin, uint increment) => (pin & (increment << (FieldBits - 1))) != 0;
}
