namespace XenSharp.Hypervisor.Grants;

/// <summary>
/// One GNTTABOP_unmap_grant_ref or GNTTABOP_unmap_and_replace request (Xen's gnttab_unmap_common input): the handle,
/// the host address to take down (0: leave the host mapping), the device address (0: leave the device mapping; always
/// 0 for unmap_and_replace) and, for unmap_and_replace, the linear address whose entry moves into its place.
/// </summary>
internal readonly record struct GrantUnmapRequest(uint Handle, ulong HostAddr, ulong DevBusAddr, ulong NewAddr);
