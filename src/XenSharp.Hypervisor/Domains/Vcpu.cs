using System.Buffers.Binary;
using XenSharp.Abi;
using XenSharp.Hypervisor.Memory;
using XenSharp.Hypervisor.Pv;
using XenSharp.Hypervisor.Stub;

namespace XenSharp.Hypervisor.Domains;

/// <summary>
/// A virtual CPU's Xen-visible state. Its guest registers live in the stub frame at the top of its ring-0 stack while
/// it is in the host; <see cref="FrameGet"/>/<see cref="FrameSet"/> read and edit them there.
/// Only the vCPU's own thread touches this object while the domain runs.
/// </summary>
public sealed class Vcpu
{
    private readonly ulong _frameAddress;

    internal Vcpu(Domain domain, int id)
    {
        Domain = domain;
        Id = id;
        _frameAddress = domain.StubPages.FrameMachineAddress(id);
    }

    public Domain Domain { get; }

    public int Id { get; }

    private Mfn _kernelL4;
    private Mfn? _userL4;
    private ulong _kernelSp;
    private ulong _syscallCallback;
    private bool _syscallMasks;

    /// <summary>The guest kernel's top-level table (CR3 while in kernel mode).</summary>
    public Mfn KernelL4
    {
        get => _kernelL4;
        set
        {
            _kernelL4 = value;
            DataSet(StubLayout.DataKernelCr3, value.Address);
        }
    }

    /// <summary>The guest's user-mode top-level table (MMUEXT_NEW_USER_BASEPTR), if it registered one.</summary>
    public Mfn? UserL4
    {
        get => _userL4;
        set
        {
            _userL4 = value;
            DataSet(StubLayout.DataUserCr3, value?.Address ?? 0);
        }
    }

    /// <summary>Guest kernel or user mode. The stub's fast paths switch it too, so the data page holds the truth.</summary>
    public bool InKernelMode => DataPage[StubLayout.DataKernelMode] != 0;

    public ulong KernelSs { get; set; }

    public ulong KernelSp
    {
        get => _kernelSp;
        set
        {
            _kernelSp = value;
            DataSet(StubLayout.DataKernelSp, value);
        }
    }

    public TrapInfo[] TrapTable { get; } = new TrapInfo[256];

    public ulong EventCallback { get; set; }

    public ulong FailsafeCallback { get; set; }

    public ulong SyscallCallback
    {
        get => _syscallCallback;
        set
        {
            _syscallCallback = value;
            DataSet(StubLayout.DataSyscallCallback, value);
        }
    }

    /// <summary>CALLBACKF_mask_events on the syscall callback: mask events while entering it.</summary>
    public bool SyscallCallbackMasksEvents
    {
        get => _syscallMasks;
        set
        {
            _syscallMasks = value;
            DataPage[StubLayout.DataSyscallMasks] = value ? (byte)1 : (byte)0;
        }
    }

    /// <summary>Turns the stub's fast paths off for state only the host models (architectural IOPL).</summary>
    public void SetSlowPathOnly(bool slow) => DataPage[StubLayout.DataSlowPath] = slow ? (byte)1 : (byte)0;

    public ulong Syscall32Callback { get; set; }

    public ulong SysenterCallback { get; set; }

    public ulong NmiCallback { get; set; }

    /// <summary>Virtual control registers: CR0 (only TS is the guest's), CR2 (the last #PF address delivered), CR4.</summary>
    public ulong VirtualCr0
    {
        get => _virtualCr0;
        set
        {
            // The real CR0.TS follows the virtual one, so the guest's FPU use raises #NM as Xen's fpu_taskswitch promises.
            if (((value ^ _virtualCr0) & Cr0Ts) != 0)
            {
                DataPage[StubLayout.DataFpuTs] = (value & Cr0Ts) != 0 ? (byte)1 : (byte)0;
                RequestStub();
            }

            _virtualCr0 = value;
        }
    }

    private const ulong Cr0Ts = 8;
    private ulong _virtualCr0 = 0x80050033;

    public ulong VirtualCr2 { get; set; }

    public ulong VirtualCr4 { get; set; } = 0x660; // PAE MCE OSFXSR OSXMMEXCPT, as Xen shows a PV guest

    /// <summary>Virtual IOPL (PHYSDEVOP_set_iopl), 0–3; the real IOPL is always 0.</summary>
    public int VirtualIopl { get; set; }

    /// <summary>Debug registers DR0–DR7 as the guest set them (set_debugreg).</summary>
    public ulong[] DebugRegisters { get; } = [0, 0, 0, 0, 0xffff0ff0, 0x400, 0xffff0ff0, 0x400];

    /// <summary>Privileged-op emulation state: I/O bitmap, emulated DR7 I/O breakpoints, per-vCPU MSRs (Pv/Emulation).</summary>
    public Pv.Emulation.PvEmulationState Emulation { get; } = new();

    /// <summary>Set when <see cref="DebugRegisters"/> changed: the machine loads them before the guest runs again.</summary>
    public bool DebugRegistersDirty { get; set; }

    /// <summary>Machine operations that need the vCPU's KVM state (MSRs); set by the machine layer.</summary>
    public IVcpuMachine? Machine { get; set; }

    /// <summary>Set by another thread to stop this vCPU; the vCPU thread checks it after every exit.</summary>
    public volatile bool StopRequested;

    /// <summary>Signalled when something the vCPU may be blocked on changes (events, stop).</summary>
    public SemaphoreSlim Wake { get; } = new(0);

    /// <summary>This vCPU's vcpu_info slot in shared_info.</summary>
    public Span<byte> VcpuInfo => Domain.SharedInfoPage.Slice(Id * SharedInfoLayout.VcpuInfoSize, SharedInfoLayout.VcpuInfoSize);

    public Mfn CurrentL4 => InKernelMode ? KernelL4 : UserL4 ?? KernelL4;

    public ulong FrameGet(int offset) =>
        BinaryPrimitives.ReadUInt64LittleEndian(Domain.Pool.Memory.GetSpan(_frameAddress + (ulong)offset, 8));

    public void FrameSet(int offset, ulong value) =>
        BinaryPrimitives.WriteUInt64LittleEndian(Domain.Pool.Memory.GetSpan(_frameAddress + (ulong)offset, 8), value);

    public void SetKernelMode(bool kernel) => Domain.StubPages.SetKernelMode(Id, kernel);

    /// <summary>Switches between guest kernel and user mode as Xen's toggle_guest_mode does: page tables and GS base.</summary>
    public void ToggleGuestMode()
    {
        SetKernelMode(!InKernelMode);
        LoadCr3(CurrentL4);
        Span<byte> data = DataPage;
        data[StubLayout.DataSwapGs] ^= 1;
        RequestStub();
    }

    /// <summary>Has the stub load this top-level table into CR3 on its way back to the guest (flushing the TLB).</summary>
    public void LoadCr3(Mfn l4)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(DataPage[StubLayout.DataPendingCr3..], l4.Address);
        RequestStub();
    }

    /// <summary>Lists page-table entries (machine addresses; bit 0 = whole frame) for the stub to rewrite before it returns.</summary>
    public void QueueResync(ReadOnlySpan<ulong> writes, bool more)
    {
        Span<byte> data = DataPage;
        for (int i = 0; i < writes.Length; i++)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(data[(StubLayout.DataResyncList + (i * 8))..], writes[i]);
        }

        BinaryPrimitives.WriteUInt32LittleEndian(data[StubLayout.DataResyncCount..], (uint)writes.Length);
        data[StubLayout.DataResyncMore] = more ? (byte)1 : (byte)0;
        RequestStub();
    }

    /// <summary>Has the stub flush this vCPU's TLB before it returns to the guest.</summary>
    public void RequestTlbFlush()
    {
        DataPage[StubLayout.DataFlushTlb] = 1;
        RequestStub();
    }

    /// <summary>Marks that the data page holds work for the stub's return path (one byte it tests on every return).</summary>
    private void RequestStub() => DataPage[StubLayout.DataRequests] = 1;

    private void DataSet(int offset, ulong value) => BinaryPrimitives.WriteUInt64LittleEndian(DataPage[offset..], value);

    private Span<byte> DataPage => Domain.Pool.Memory.GetSpan(Domain.StubPages.DataMachineAddress(Id), 4096);

    public bool CopyFromGuest(ulong va, Span<byte> destination) =>
        GuestAccess.CopyFrom(Domain.Pool, Domain.Id, CurrentL4, va, destination);

    public bool CopyToGuest(ulong va, ReadOnlySpan<byte> source) =>
        GuestAccess.CopyTo(Domain.Pool, Domain.Id, CurrentL4, va, source);

    /// <summary>Prepares the frame the stub's start entry restores: the guest's first instruction in ring 3.</summary>
    public void SetInitialContext(ulong rip, ulong rsp, ulong rsi)
    {
        Span<byte> frame = Domain.Pool.Memory.GetSpan(_frameAddress, StubFrame.Size);
        frame.Clear();
        FrameSet(StubFrame.Rip, rip);
        FrameSet(StubFrame.Cs, XenSelectors.FlatKernelCs);
        FrameSet(StubFrame.Rflags, 0x202);
        FrameSet(StubFrame.Rsp, rsp);
        FrameSet(StubFrame.Ss, XenSelectors.FlatKernelSs);
        FrameSet(StubFrame.Rsi, rsi);
        KernelSs = XenSelectors.FlatKernelSs;
        KernelSp = rsp;
    }

    public override string ToString() => $"d{Domain.Id}v{Id}";
}
