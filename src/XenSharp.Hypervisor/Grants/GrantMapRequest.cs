namespace XenSharp.Hypervisor.Grants;

/// <summary>One GNTTABOP_map_grant_ref request as the guest wrote it.</summary>
internal readonly record struct GrantMapRequest(ulong HostAddr, uint Flags, uint Ref, ushort Dom);
