namespace XenSharp.Kvm;

public enum VcpuExitReason
{
    /// <summary>Port I/O (KVM_EXIT_IO).</summary>
    Io,

    /// <summary>Access to guest-physical memory with no memory slot (KVM_EXIT_MMIO).</summary>
    Mmio,

    /// <summary>HLT with no in-kernel irqchip to wait on (KVM_EXIT_HLT).</summary>
    Hlt,

    /// <summary>Triple fault or similar (KVM_EXIT_SHUTDOWN).</summary>
    Shutdown,

    /// <summary>The CPU refused the guest state (KVM_EXIT_FAIL_ENTRY); see <see cref="VcpuExit.HardwareReason"/>.</summary>
    FailEntry,

    /// <summary>KVM could not emulate something (KVM_EXIT_INTERNAL_ERROR); suberror in <see cref="VcpuExit.HardwareReason"/>.</summary>
    InternalError,

    /// <summary>KVM_RUN returned EINTR/EAGAIN (e.g. <see cref="KvmVcpu.ImmediateExit"/>) or KVM_EXIT_INTR: no guest event, just run again.</summary>
    Interrupted,

    /// <summary>Guest-requested reset/shutdown/crash (KVM_EXIT_SYSTEM_EVENT); type in <see cref="VcpuExit.SystemEventType"/>.</summary>
    SystemEvent,

    /// <summary>Any other KVM_EXIT_*; see <see cref="VcpuExit.RawReason"/>.</summary>
    Unknown,
}
