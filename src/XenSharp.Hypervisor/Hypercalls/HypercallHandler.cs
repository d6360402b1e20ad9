using XenSharp.Hypervisor.Domains;

namespace XenSharp.Hypervisor.Hypercalls;

/// <summary>One hypercall family: arguments are the guest's RDI, RSI, RDX, R10, R8; the result goes to RAX (negative = -errno).</summary>
internal delegate long HypercallHandler(Vcpu vcpu, ulong a1, ulong a2, ulong a3, ulong a4, ulong a5);
