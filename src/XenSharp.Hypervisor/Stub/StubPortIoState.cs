namespace XenSharp.Hypervisor.Stub;

/// <summary>What the stub's port-I/O decision reads in the vCPU's data page (<see cref="StubPortIo.TryAnswer"/>).</summary>
internal readonly record struct StubPortIoState(bool KernelMode, bool SlowPath, int VirtualIopl, bool IoBreakpoints);
