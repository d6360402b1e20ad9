using System.Globalization;
using XenSharp.Kvm.Native;

namespace XenSharp.Kvm;

/// <summary>One KVM virtual machine: memory slots, an in-kernel irqchip, vCPUs. Disposing it disposes its vCPUs first.</summary>
public sealed unsafe class KvmVm : IDisposable
{
    private const ulong PageSize = 4096;

    private readonly FileDescriptor _fd;
    private readonly int _vcpuMmapSize;
    private readonly List<KvmVcpu> _vcpus = [];
    private readonly Lock _lock = new();
    private bool _disposed;

    internal KvmVm(FileDescriptor fd, int vcpuMmapSize)
    {
        _fd = fd;
        _vcpuMmapSize = vcpuMmapSize;
        MaxMemorySlots = CheckExtension(KvmConstants.CapNrMemslots);
        HasSyncRegisters = (CheckExtension(KvmConstants.CapSyncRegs) & (int)KvmConstants.SyncX86Regs) != 0;
    }

    /// <summary>KVM_CAP_NR_MEMSLOTS: usable slot numbers are 0 .. MaxMemorySlots-1.</summary>
    public int MaxMemorySlots { get; }

    /// <summary>KVM_CAP_SYNC_REGS covers the general registers, so <see cref="KvmVcpu.SyncedRegisters"/> costs no ioctl.</summary>
    public bool HasSyncRegisters { get; }

    /// <summary>KVM_CHECK_EXTENSION on this VM (answers can differ from /dev/kvm's, e.g. for the VM type).</summary>
    public int CheckExtension(uint capability) =>
        Ioctl.Invoke(_fd, KvmIoctls.CheckExtension, capability, "KVM_CHECK_EXTENSION");

    /// <summary>KVM_CREATE_IRQCHIP: in-kernel PIC, IOAPIC and local APICs. Call before creating vCPUs.</summary>
    public void CreateIrqchip() => Ioctl.Invoke(_fd, KvmIoctls.CreateIrqchip, 0, "KVM_CREATE_IRQCHIP");

    /// <summary>KVM_SET_USER_MEMORY_REGION: guest-physical [guestPhysical, +size) is backed by host memory at hostAddress.
    /// Replacing an existing slot with a different range is refused by KVM: delete it first.</summary>
    public void SetMemorySlot(uint slot, ulong guestPhysical, ulong size, nint hostAddress)
    {
        if (size == 0)
        {
            throw new ArgumentOutOfRangeException(nameof(size), "a memory slot needs a size; use DeleteMemorySlot to remove one");
        }

        if (guestPhysical % PageSize != 0 || size % PageSize != 0 || (ulong)hostAddress % PageSize != 0)
        {
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture,
                $"memory slot {slot}: guest address 0x{guestPhysical:x}, size 0x{size:x} and host address 0x{hostAddress:x} must all be multiples of 4096"));
        }

        SetRegion(slot, guestPhysical, size, (ulong)hostAddress);
    }

    /// <summary>KVM_SET_USER_MEMORY_REGION with size 0.</summary>
    public void DeleteMemorySlot(uint slot) => SetRegion(slot, 0, 0, 0);

    public KvmVcpu CreateVcpu(int id) => CreateVcpu(id, HasSyncRegisters);

    /// <param name="useSyncRegisters">False forces the KVM_GET_REGS fallback, so tests can cover it on kernels that have sync regs.</param>
    internal KvmVcpu CreateVcpu(int id, bool useSyncRegisters)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(id);
        if (useSyncRegisters && !HasSyncRegisters)
        {
            throw new InvalidOperationException("this KVM has no KVM_CAP_SYNC_REGS for the general registers");
        }

        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            int raw = Ioctl.Invoke(_fd, KvmIoctls.CreateVcpu, (nuint)id, "KVM_CREATE_VCPU",
                string.Create(CultureInfo.InvariantCulture, $"vCPU {id}"));
            var vcpu = KvmVcpu.Create(new FileDescriptor(raw), id, _vcpuMmapSize, useSyncRegisters);
            _vcpus.Add(vcpu);
            return vcpu;
        }
    }

    /// <summary>KVM_SIGNAL_MSI: an MSI write of <paramref name="data"/> to <paramref name="address"/> (0xFEExxxxx:
    /// destination APIC in bits 12-19, vector in data bits 0-7). A vCPU spinning in the guest takes the interrupt, which
    /// makes this the way to kick a running vCPU without POSIX signals. Needs <see cref="CreateIrqchip"/>.
    /// Safe to call from any thread.</summary>
    public void SignalMsi(ulong address, uint data)
    {
        var msi = new KvmMsi { AddressLo = (uint)address, AddressHi = (uint)(address >> 32), Data = data };
        // Returns 0 when the guest's APIC blocked delivery (disabled or masked): not an error.
        Ioctl.Invoke(_fd, KvmIoctls.SignalMsi, &msi, "KVM_SIGNAL_MSI");
    }

    /// <summary>Disposes every vCPU (unmapping kvm_run, closing its fd), then closes the VM. No vCPU may be inside Run().</summary>
    public void Dispose()
    {
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            foreach (KvmVcpu vcpu in _vcpus)
            {
                vcpu.Dispose();
            }

            _vcpus.Clear();
        }

        _fd.Dispose();
    }

    private void SetRegion(uint slot, ulong guestPhysical, ulong size, ulong hostAddress)
    {
        var region = new KvmUserspaceMemoryRegion
        {
            Slot = slot,
            GuestPhysAddr = guestPhysical,
            MemorySize = size,
            UserspaceAddr = hostAddress,
        };
        Ioctl.Invoke(_fd, KvmIoctls.SetUserMemoryRegion, &region, "KVM_SET_USER_MEMORY_REGION",
            size == 0
                ? string.Create(CultureInfo.InvariantCulture, $"deleting slot {slot}")
                : string.Create(CultureInfo.InvariantCulture, $"slot {slot}, guest-physical 0x{guestPhysical:x}, 0x{size:x} bytes"));
    }
}
