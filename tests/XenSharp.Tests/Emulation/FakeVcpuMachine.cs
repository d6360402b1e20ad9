using XenSharp.Hypervisor.Domains;

namespace XenSharp.Tests.Emulation;

/// <summary>An <see cref="IVcpuMachine"/> over a dictionary: MSRs the "machine" has; any other index fails like KVM does.</summary>
internal sealed class FakeVcpuMachine : IVcpuMachine
{
    private int _kicks;

    public Dictionary<uint, ulong> Msrs { get; } = new()
    {
        [0x10] = 0x123456789a,        // TSC
        [0x1a0] = 0x850089,           // MISC_ENABLE
        [0xc0000080] = 0xd01,         // EFER
        [0xc0000100] = 0,             // FS_BASE
        [0xc0000101] = 0,             // GS_BASE
        [0xc0000102] = 0,             // KERNEL_GS_BASE
        [0xc0000103] = 0,             // TSC_AUX
        [0x1d9] = 0,                  // DEBUGCTL: the machine has it, the PV policy does not offer it
    };

    /// <summary>The real debug registers as last loaded.</summary>
    public ulong[] DebugRegisters { get; } = [0, 0, 0, 0, 0, 0, 0xffff0ff0, 0x400];

    public ulong[] GetDebugRegisters() => (ulong[])DebugRegisters.Clone();

    public void SetDebugRegisters(ReadOnlySpan<ulong> dr) => dr.CopyTo(DebugRegisters);

    /// <summary>How many times something asked to interrupt the vCPU.</summary>
    public int Kicks => Volatile.Read(ref _kicks);

    /// <summary>What a kick does beyond being counted (e.g. the vCPU leaving the guest), on the kicking thread.</summary>
    public Action? OnKick { get; set; }

    public ulong ReadTsc() => Msrs[0x10];

    public void Kick()
    {
        Interlocked.Increment(ref _kicks);
        OnKick?.Invoke();
    }

    public ulong GetMsr(uint index) =>
        Msrs.TryGetValue(index, out ulong v) ? v : throw new MachineRefusedException($"no MSR 0x{index:x}");

    public void SetMsr(uint index, ulong value)
    {
        if (!Msrs.ContainsKey(index))
        {
            throw new MachineRefusedException($"no MSR 0x{index:x}");
        }

        Msrs[index] = value;
    }

    /// <summary>XCR0 as last set; null until something set it. <see cref="RefuseXcr0"/> makes the machine refuse.</summary>
    public ulong? Xcr0 { get; private set; }

    public bool RefuseXcr0 { get; set; }

    public void SetXcr0(ulong value)
    {
        if (RefuseXcr0)
        {
            throw new MachineRefusedException($"XCR0 0x{value:x} refused");
        }

        Xcr0 = value;
    }

    /// <summary>The machine state as last loaded (what <see cref="SaveState"/> gives back).</summary>
    public VcpuMachineState State { get; set; } = new(0, 0, 0, 0, 0, 0, 0, new byte[VcpuMachineState.FxsaveSize]);

    public VcpuMachineState SaveState() => State;

    public void LoadState(VcpuMachineState state) => State = state;
}
