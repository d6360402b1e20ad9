using XenSharp.Hypervisor.Memory;
using XenSharp.Kvm;

namespace XenSharp.Hypervisor.Machine;

/// <summary>The machine pool over KVM's shared memfd.</summary>
internal sealed class KvmMachineMemory(MachineMemory memory) : IMachineMemory
{
    public ulong Size => memory.Size;

    public Span<byte> GetSpan(ulong address, int length) => memory.GetSpan(address, length);

    public void Discard(ulong address, ulong length) => memory.Discard(address, length);

    public nint HostAddress(ulong address) => memory.HostAddress(address);
}
