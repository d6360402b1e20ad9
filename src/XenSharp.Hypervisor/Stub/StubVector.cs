namespace XenSharp.Hypervisor.Stub;

/// <summary>What the frame's vector slot holds: 0–255 are hardware vectors; the stub rewrites system calls to these.</summary>
internal static class StubVector
{
    /// <summary>A <c>syscall</c> from guest user mode.</summary>
    public const ulong GuestSyscall = 0x100;

    /// <summary>A <c>syscall</c> from guest kernel mode: a hypercall, number in RAX.</summary>
    public const ulong Hypercall = 0x101;

    /// <summary>The stub finished a fast path and an event is pending: the host delivers the upcall.</summary>
    public const ulong EventCheck = 0x102;

    /// <summary>A fast path faulted writing a bounce frame or reading an iret context in guest memory.</summary>
    public const ulong GuestMemoryFault = 0x103;

    /// <summary>The vector the host uses to kick a running vCPU (MSI through the in-kernel local APIC).</summary>
    public const byte Kick = 0x40;

    public const ushort ExitPort = 0xe0;
    public const ushort StubFaultPort = 0xe1;

    public static bool HasErrorCode(int vector) => vector is 8 or 10 or 11 or 12 or 13 or 14 or 17 or 21 or 29 or 30;
}
