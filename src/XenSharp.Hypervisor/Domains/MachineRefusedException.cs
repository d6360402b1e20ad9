namespace XenSharp.Hypervisor.Domains;

/// <summary>The machine refused an operation on a vCPU's state (KVM could not read or write an MSR); the machine layer translates its own errors into this.</summary>
internal sealed class MachineRefusedException(string message, Exception? inner = null) : Exception(message, inner);
