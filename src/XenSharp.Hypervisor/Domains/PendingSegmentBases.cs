namespace XenSharp.Hypervisor.Domains;

/// <summary>The FS base and the guest kernel's and user's GS bases a vCPU starts with (vcpu_guest_context).</summary>
internal readonly record struct PendingSegmentBases(ulong Fs, ulong GsKernel, ulong GsUser);
