using XenSharp.Hypervisor.Domains;

namespace XenSharp.Bench;

/// <summary>
/// The machine behind figure (g)'s vCPU, which never runs: MSRs in a dictionary (the ones the measured exits touch),
/// debug registers and machine state held as last set, a TSC that counts up, kicks counted. Nothing here reaches KVM.
/// </summary>
internal sealed class HeapVcpuMachine : IVcpuMachine
{
    private readonly Dictionary<uint, ulong> _msrs = new()
    {
        [0x10] = 0,                // TSC
        [0xc0000080] = 0xd01,      // EFER
        [0xc0000100] = 0,          // FS_BASE
        [0xc0000101] = 0,          // GS_BASE
        [0xc0000102] = 0,          // KERNEL_GS_BASE
    };

    private readonly ulong[] _debug = [0, 0, 0, 0, 0, 0, 0xffff0ff0, 0x400];
    private VcpuMachineState _state = new(0, 0, 0, 0, 0, 0, 0, new byte[VcpuMachineState.FxsaveSize]);
    private ulong _tsc;

    public long Kicks { get; private set; }

    public ulong GetMsr(uint index) =>
        _msrs.TryGetValue(index, out ulong v) ? v : throw new MachineRefusedException($"no MSR 0x{index:x}");

    public void SetMsr(uint index, ulong value)
    {
        if (!_msrs.ContainsKey(index))
        {
            throw new MachineRefusedException($"no MSR 0x{index:x}");
        }

        _msrs[index] = value;
    }

    public ulong[] GetDebugRegisters() => (ulong[])_debug.Clone();

    public void SetDebugRegisters(ReadOnlySpan<ulong> dr) => dr.CopyTo(_debug);

    public ulong ReadTsc() => _tsc += 1000;

    public void Kick() => Kicks++;

    /// <summary>XCR0 as last set (x87|SSE until then, as a vCPU starts).</summary>
    public ulong Xcr0 { get; private set; } = 3;

    public void SetXcr0(ulong value) => Xcr0 = value;

    public VcpuMachineState SaveState() => _state;

    public void LoadState(VcpuMachineState state) => _state = state;
}
