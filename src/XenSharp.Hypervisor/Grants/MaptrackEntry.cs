using XenSharp.Hypervisor.Domains;

namespace XenSharp.Hypervisor.Grants;

/// <summary>
/// One grant mapping a domain holds (Xen's struct grant_mapping): which domain's ref it maps and which of the
/// mappings (GNTMAP_host_map, GNTMAP_device_map, with GNTMAP_readonly and the other request flags) are still in
/// place. Flags are kept to 16 bits as Xen keeps them; 0 means the handle is free.
/// </summary>
internal readonly record struct MaptrackEntry(ushort Flags, Domain Granter, uint Ref)
{
    public bool InUse => (Flags & (GrantTableAbi.GntmapHostMap | GrantTableAbi.GntmapDeviceMap)) != 0;
}
