using System.Globalization;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using XenSharp.Kvm.Native;

namespace XenSharp.Kvm;

/// <summary>One vCPU: its fd and its mmap()ed kvm_run. Not thread-safe: one thread runs it; only
/// <see cref="ImmediateExit"/> may be touched from elsewhere.</summary>
public sealed unsafe class KvmVcpu : IDisposable
{
    private const int StackMsrs = 16;

    private readonly FileDescriptor _fd;
    private readonly Mapping _runMapping;
    private readonly int _runSize;
    private readonly bool _syncRegs;
    private byte* _run;

    // Where SyncedRegisters points when KVM lacks KVM_CAP_SYNC_REGS: on the pinned heap so Run() can pass its
    // address to KVM_GET_REGS without a fixed block, and nothing needs freeing.
    private readonly Registers[]? _fallbackRegisters;

    private KvmVcpu(FileDescriptor fd, Mapping runMapping, int id, bool syncRegs)
    {
        _fd = fd;
        _runMapping = runMapping;
        _run = runMapping.Pointer;
        _runSize = (int)runMapping.Length;
        _syncRegs = syncRegs;
        Id = id;
        if (!syncRegs)
        {
            _fallbackRegisters = GC.AllocateArray<Registers>(1, pinned: true);
        }
    }

    public int Id { get; }

    /// <summary>True when KVM fills <see cref="SyncedRegisters"/> itself on every exit (KVM_CAP_SYNC_REGS); false when
    /// Run() does an explicit KVM_GET_REGS after each exit instead.</summary>
    public bool UsesSyncRegisters => _syncRegs;

    /// <summary>The general registers as of the last exit, read in place from kvm_run->s.regs.regs (no ioctl). Valid after
    /// Run() returns and until the next Run(); never written back (we never set kvm_dirty_regs), so change registers with
    /// <see cref="SetRegisters"/>. Without KVM_CAP_SYNC_REGS this is a copy Run() took with KVM_GET_REGS.</summary>
    public ref readonly Registers SyncedRegisters
    {
        get
        {
            byte* run = _run;
            ObjectDisposedException.ThrowIf(run == null, this);
            return ref _syncRegs
                ? ref Unsafe.AsRef<Registers>(run + KvmRunLayout.SyncRegs)
                : ref _fallbackRegisters![0];
        }
    }

    /// <summary>kvm_run->immediate_exit: while set, KVM_RUN returns at once (Run() reports Interrupted) instead of entering
    /// the guest. It does not stop a guest that is already running: kick that one with <see cref="KvmVm.SignalMsi"/>.</summary>
    public bool ImmediateExit
    {
        get
        {
            byte* run = _run;
            ObjectDisposedException.ThrowIf(run == null, this);
            return Volatile.Read(ref run[KvmRunLayout.ImmediateExit]) != 0;
        }

        set
        {
            byte* run = _run;
            ObjectDisposedException.ThrowIf(run == null, this);
            Volatile.Write(ref run[KvmRunLayout.ImmediateExit], value ? (byte)1 : (byte)0);
        }
    }

    internal static KvmVcpu Create(FileDescriptor fd, int id, int runSize, bool syncRegs)
    {
        Mapping? mapping = Mapping.TryMapShared(fd, (nuint)runSize, out int errno);
        if (mapping is null)
        {
            fd.Dispose();
            throw new KvmException("mmap(kvm_run)", errno, string.Create(CultureInfo.InvariantCulture, $"vCPU {id}, {runSize} bytes"));
        }

        return new KvmVcpu(fd, mapping, id, syncRegs);
    }

    /// <summary>KVM_SET_CPUID2. Set it before the first Run(): recent kernels refuse changes after that.</summary>
    public void SetCpuid(ReadOnlySpan<CpuidEntry> entries)
    {
        using var buffer = new NativeBuffer(KvmIoctls.SizeofKvmCpuid2 + (nuint)entries.Length * (nuint)sizeof(KvmCpuidEntry2));
        *(uint*)buffer.Pointer = (uint)entries.Length;
        var native = (KvmCpuidEntry2*)(buffer.Pointer + KvmIoctls.SizeofKvmCpuid2);
        for (int i = 0; i < entries.Length; i++)
        {
            CpuidEntry e = entries[i];
            native[i] = new KvmCpuidEntry2
            {
                Function = e.Function, Index = e.Index, Flags = e.Flags, Eax = e.Eax, Ebx = e.Ebx, Ecx = e.Ecx, Edx = e.Edx,
            };
        }

        Ioctl.Invoke(_fd, KvmIoctls.SetCpuid2, buffer.Pointer, "KVM_SET_CPUID2",
            string.Create(CultureInfo.InvariantCulture, $"{entries.Length} entries"));
    }

    /// <summary>KVM_SET_MSRS. KVM stops at the first MSR it refuses and reports how many it set; that MSR is named in the
    /// exception (whose Errno is then 0: KVM gives no errno for it).</summary>
    public void SetMsrs(ReadOnlySpan<MsrValue> msrs)
    {
        if (msrs.IsEmpty)
        {
            return;
        }

        int bytes = (int)KvmIoctls.SizeofKvmMsrs + msrs.Length * sizeof(KvmMsrEntry);
        if (msrs.Length <= StackMsrs)
        {
            byte* stack = stackalloc byte[bytes];
            new Span<byte>(stack, bytes).Clear();
            SetMsrs(stack, msrs);
        }
        else
        {
            using var buffer = new NativeBuffer((nuint)bytes);
            SetMsrs(buffer.Pointer, msrs);
        }
    }

    /// <summary>
    /// KVM_SET_MP_STATE RUNNABLE: with the in-kernel local APIC, every vCPU but the first starts waiting for an
    /// INIT/SIPI that a Xen PV guest never sends (it asks with VCPUOP_up instead); its KVM_RUN would block for ever.
    /// </summary>
    public void MakeRunnable()
    {
        uint state = 0; // KVM_MP_STATE_RUNNABLE
        Ioctl.Invoke(_fd, KvmIoctls.SetMpState, &state, "KVM_SET_MP_STATE");
    }

    /// <summary>KVM_GET_TSC_KHZ: the frequency of the TSC this vCPU's guest reads with <c>rdtsc</c>.</summary>
    public ulong GetTscKhz() => (ulong)Ioctl.Invoke(_fd, KvmIoctls.GetTscKhz, 0, "KVM_GET_TSC_KHZ");

    /// <summary>
    /// The guest's TSC now (IA32_TSC through KVM_GET_MSRS): the value a ring-3 <c>rdtsc</c> in this VM reads, on
    /// kvm_pvm as on hardware KVM (tools/probes/tsc.c). Only while the vCPU is not in KVM_RUN, i.e. on its own thread.
    /// </summary>
    public ulong ReadTsc() => GetMsr(0x10);

    /// <summary>KVM_GET_MSRS for one MSR.</summary>
    public ulong GetMsr(uint index)
    {
        byte* buffer = stackalloc byte[(int)KvmIoctls.SizeofKvmMsrs + sizeof(KvmMsrEntry)];
        *(ulong*)buffer = 1; // nmsrs = 1, pad = 0
        var entry = (KvmMsrEntry*)(buffer + KvmIoctls.SizeofKvmMsrs);
        *entry = new KvmMsrEntry { Index = index };
        int done = Ioctl.Invoke(_fd, KvmIoctls.GetMsrs, buffer, "KVM_GET_MSRS", MsrContext(index));
        if (done != 1)
        {
            throw new KvmException("KVM_GET_MSRS", string.Create(CultureInfo.InvariantCulture,
                $"KVM_GET_MSRS could not read MSR 0x{index:x} on vCPU {Id}"));
        }

        return entry->Data;
    }

    public SpecialRegisters GetSpecialRegisters()
    {
        KvmSregs sregs;
        Ioctl.Invoke(_fd, KvmIoctls.GetSregs, &sregs, "KVM_GET_SREGS");
        return sregs.Registers;
    }

    /// <summary>KVM_SET_SREGS with an empty interrupt bitmap: injects nothing, and leaves an interrupt KVM already holds queued.</summary>
    public void SetSpecialRegisters(in SpecialRegisters s)
    {
        KvmSregs sregs = default;
        sregs.Registers = s;
        Ioctl.Invoke(_fd, KvmIoctls.SetSregs, &sregs, "KVM_SET_SREGS");
    }

    /// <summary>KVM_GET_DEBUGREGS: DR0–DR3, DR6, DR7 (indexes 0–3, 6, 7 of the result; 4 and 5 are zero).</summary>
    public ulong[] GetDebugRegisters()
    {
        ulong* d = stackalloc ulong[16];
        Ioctl.Invoke(_fd, KvmIoctls.GetDebugregs, d, "KVM_GET_DEBUGREGS");
        return [d[0], d[1], d[2], d[3], 0, 0, d[4], d[5]];
    }

    /// <summary>
    /// KVM_GET_FPU as a 512-byte FXSAVE image (x87 control/status/abridged tag, last opcode and pointers, MXCSR,
    /// ST0–7, XMM0–15; MXCSR_MASK, which struct kvm_fpu lacks, reads 0xffff).
    /// </summary>
    public void GetFxsave(Span<byte> image)
    {
        if (image.Length < 512)
        {
            throw new ArgumentException("an FXSAVE image is 512 bytes", nameof(image));
        }

        byte* f = stackalloc byte[(int)KvmIoctls.SizeofKvmFpu];
        Ioctl.Invoke(_fd, KvmIoctls.GetFpu, f, "KVM_GET_FPU");
        var k = new ReadOnlySpan<byte>(f, (int)KvmIoctls.SizeofKvmFpu);
        image[..512].Clear();
        k.Slice(128, 4).CopyTo(image);            // fcw, fsw
        image[4] = k[132];                        // abridged tag
        k.Slice(134, 2).CopyTo(image[6..]);       // last opcode
        k.Slice(136, 16).CopyTo(image[8..]);      // last ip, last dp
        k.Slice(408, 4).CopyTo(image[24..]);      // mxcsr
        image[28] = 0xff;
        image[29] = 0xff;
        k[..128].CopyTo(image[32..]);             // st0-7
        k.Slice(152, 256).CopyTo(image[160..]);   // xmm0-15
    }

    /// <summary>KVM_SET_FPU from a 512-byte FXSAVE image (the inverse of <see cref="GetFxsave"/>).</summary>
    public void SetFxsave(ReadOnlySpan<byte> image)
    {
        if (image.Length < 512)
        {
            throw new ArgumentException("an FXSAVE image is 512 bytes", nameof(image));
        }

        byte* f = stackalloc byte[(int)KvmIoctls.SizeofKvmFpu];
        var k = new Span<byte>(f, (int)KvmIoctls.SizeofKvmFpu);
        k.Clear();
        image[32..160].CopyTo(k);
        image[..4].CopyTo(k[128..]);
        k[132] = image[4];
        image.Slice(6, 2).CopyTo(k[134..]);
        image.Slice(8, 16).CopyTo(k[136..]);
        image.Slice(160, 256).CopyTo(k[152..]);
        image.Slice(24, 4).CopyTo(k[408..]);
        Ioctl.Invoke(_fd, KvmIoctls.SetFpu, f, "KVM_SET_FPU");
    }

    /// <summary>KVM_GET_XCRS: XCR0, the XSAVE feature-enabled mask the guest runs with.</summary>
    public ulong GetXcr0()
    {
        byte* x = stackalloc byte[(int)KvmIoctls.SizeofKvmXcrs];
        new Span<byte>(x, (int)KvmIoctls.SizeofKvmXcrs).Clear();
        Ioctl.Invoke(_fd, KvmIoctls.GetXcrs, x, "KVM_GET_XCRS");
        uint count = *(uint*)x;
        for (uint i = 0; i < count && i < 16; i++)
        {
            byte* xcr = x + 8 + (i * 16);
            if (*(uint*)xcr == 0)
            {
                return *(ulong*)(xcr + 8);
            }
        }

        throw new KvmException("KVM_GET_XCRS", $"KVM_GET_XCRS reported no XCR0 on vCPU {Id}");
    }

    /// <summary>
    /// KVM_SET_XCRS with XCR0 = <paramref name="value"/>. KVM refuses (EINVAL) a value the vCPU's CPUID does not allow
    /// or the architecture forbids (x87 clear, AVX without SSE, part of the AVX-512 state). Needs CR4.OSXSAVE.
    /// </summary>
    public void SetXcr0(ulong value)
    {
        byte* x = stackalloc byte[(int)KvmIoctls.SizeofKvmXcrs];
        new Span<byte>(x, (int)KvmIoctls.SizeofKvmXcrs).Clear();
        *(uint*)x = 1;                 // nr_xcrs
        *(uint*)(x + 8) = 0;           // xcrs[0].xcr = XCR0
        *(ulong*)(x + 16) = value;     // xcrs[0].value
        Ioctl.Invoke(_fd, KvmIoctls.SetXcrs, x, "KVM_SET_XCRS",
            string.Create(CultureInfo.InvariantCulture, $"XCR0 0x{value:x} on vCPU {Id}"));
    }

    /// <summary>KVM_SET_DEBUGREGS from DR0–DR3, DR6, DR7 (indexes 0–3, 6, 7 of <paramref name="dr"/>).</summary>
    public void SetDebugRegisters(ReadOnlySpan<ulong> dr)
    {
        ulong* d = stackalloc ulong[16];
        for (int i = 0; i < 16; i++)
        {
            d[i] = 0;
        }

        d[0] = dr[0];
        d[1] = dr[1];
        d[2] = dr[2];
        d[3] = dr[3];
        d[4] = dr[6];
        d[5] = dr[7];
        Ioctl.Invoke(_fd, KvmIoctls.SetDebugregs, d, "KVM_SET_DEBUGREGS");
    }

    public Registers GetRegisters()
    {
        Registers regs;
        Ioctl.Invoke(_fd, KvmIoctls.GetRegs, &regs, "KVM_GET_REGS");
        return regs;
    }

    public void SetRegisters(in Registers r)
    {
        fixed (Registers* regs = &r)
        {
            Ioctl.Invoke(_fd, KvmIoctls.SetRegs, regs, "KVM_SET_REGS");
        }
    }

    /// <summary>KVM_RUN until the next exit. Allocation-free. EINTR/EAGAIN (a signal, <see cref="ImmediateExit"/>) come
    /// back as <see cref="VcpuExitReason.Interrupted"/>; any other failure throws <see cref="KvmException"/>.</summary>
    public VcpuExit Run()
    {
        byte* run = _run;
        ObjectDisposedException.ThrowIf(run == null, this);
        if (_syncRegs)
        {
            *(ulong*)(run + KvmRunLayout.KvmValidRegs) = KvmConstants.SyncX86Regs;
        }

        int rc = LibC.Ioctl(_fd, KvmIoctls.Run, 0);
        if (rc < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (errno != ErrnoNames.EINTR && errno != ErrnoNames.EAGAIN)
            {
                throw new KvmException("KVM_RUN", errno, string.Create(CultureInfo.InvariantCulture, $"vCPU {Id}"));
            }

            RefreshFallbackRegisters();
            return VcpuExit.Simple(VcpuExitReason.Interrupted, *(uint*)(run + KvmRunLayout.ExitReason));
        }

        RefreshFallbackRegisters();
        VcpuExit exit = Decode(run);

        // `this` may otherwise be unreachable during the ioctl (only the fd SafeHandle is held), and a finalizer
        // unmapping kvm_run there would turn Decode into a use-after-unmap.
        GC.KeepAlive(this);
        return exit;
    }

    /// <summary>The I/O data area of the last Io exit (IoSize*IoCount bytes inside kvm_run). For an IN, write the answer
    /// here before the next Run(); for an OUT, it holds every element of a REP OUTS. Empty if the last exit was not Io.</summary>
    public Span<byte> GetIoBuffer()
    {
        byte* run = _run;
        ObjectDisposedException.ThrowIf(run == null, this);
        if (*(uint*)(run + KvmRunLayout.ExitReason) != KvmConstants.ExitIo)
        {
            return default;
        }

        ulong offset = *(ulong*)(run + KvmRunLayout.IoDataOffset);
        ulong length = (ulong)run[KvmRunLayout.IoSize] * *(uint*)(run + KvmRunLayout.IoCount);
        if (offset > (ulong)_runSize || length > (ulong)_runSize - offset)
        {
            return default;
        }

        return new Span<byte>(run + offset, (int)length);
    }

    /// <summary>kvm_run->mmio.data (8 bytes) of the last Mmio exit: for a read, write the value here before the next Run().
    /// Empty if the last exit was not Mmio.</summary>
    public Span<byte> GetMmioBuffer()
    {
        byte* run = _run;
        ObjectDisposedException.ThrowIf(run == null, this);
        return *(uint*)(run + KvmRunLayout.ExitReason) == KvmConstants.ExitMmio
            ? new Span<byte>(run + KvmRunLayout.MmioData, 8)
            : default;
    }

    /// <summary>Unmaps kvm_run, then closes the vCPU fd. No thread may be inside Run().</summary>
    public void Dispose()
    {
        _run = null;
        _runMapping.Dispose();
        _fd.Dispose();
    }

    private void SetMsrs(byte* buffer, ReadOnlySpan<MsrValue> msrs)
    {
        *(uint*)buffer = (uint)msrs.Length;
        var entries = (KvmMsrEntry*)(buffer + KvmIoctls.SizeofKvmMsrs);
        for (int i = 0; i < msrs.Length; i++)
        {
            entries[i] = new KvmMsrEntry { Index = msrs[i].Index, Data = msrs[i].Value };
        }

        int done = Ioctl.Invoke(_fd, KvmIoctls.SetMsrs, buffer, "KVM_SET_MSRS");
        if (done < msrs.Length)
        {
            MsrValue refused = msrs[done];
            throw new KvmException("KVM_SET_MSRS", string.Create(CultureInfo.InvariantCulture,
                $"KVM_SET_MSRS set {done} of {msrs.Length} MSRs on vCPU {Id}: MSR 0x{refused.Index:x} (value 0x{refused.Value:x}) was refused"));
        }
    }

    private string MsrContext(uint index) => string.Create(CultureInfo.InvariantCulture, $"MSR 0x{index:x} on vCPU {Id}");

    private void RefreshFallbackRegisters()
    {
        if (_fallbackRegisters is not null)
        {
            Ioctl.Invoke(_fd, KvmIoctls.GetRegs, Unsafe.AsPointer(ref _fallbackRegisters[0]), "KVM_GET_REGS");
        }
    }

    private VcpuExit Decode(byte* run)
    {
        uint raw = *(uint*)(run + KvmRunLayout.ExitReason);
        switch (raw)
        {
            case KvmConstants.ExitIo:
            {
                bool isOut = run[KvmRunLayout.IoDirection] == KvmConstants.ExitIoOut;
                byte size = run[KvmRunLayout.IoSize];
                ulong offset = *(ulong*)(run + KvmRunLayout.IoDataOffset);
                ulong data = 0;
                if (isOut && offset <= (ulong)_runSize && size <= (ulong)_runSize - offset)
                {
                    byte* p = run + offset;
                    data = size switch
                    {
                        1 => *p,
                        2 => *(ushort*)p,
                        4 => *(uint*)p,
                        _ => 0,
                    };
                }

                return VcpuExit.Io(raw, *(ushort*)(run + KvmRunLayout.IoPort), isOut, size,
                    *(uint*)(run + KvmRunLayout.IoCount), data);
            }

            case KvmConstants.ExitMmio:
            {
                bool isWrite = run[KvmRunLayout.MmioIsWrite] != 0;
                uint length = *(uint*)(run + KvmRunLayout.MmioLen);
                ulong data = 0;
                if (isWrite)
                {
                    ulong all = *(ulong*)(run + KvmRunLayout.MmioData);
                    data = length >= 8 ? all : all & ((1UL << (int)(length * 8)) - 1);
                }

                return VcpuExit.Mmio(raw, *(ulong*)(run + KvmRunLayout.MmioPhysAddr), isWrite, (byte)length, data);
            }

            case KvmConstants.ExitHlt:
                return VcpuExit.Simple(VcpuExitReason.Hlt, raw);
            case KvmConstants.ExitShutdown:
                return VcpuExit.Simple(VcpuExitReason.Shutdown, raw);
            case KvmConstants.ExitIntr:
                return VcpuExit.Simple(VcpuExitReason.Interrupted, raw);
            case KvmConstants.ExitFailEntry:
                return VcpuExit.WithHardwareReason(VcpuExitReason.FailEntry, raw,
                    *(ulong*)(run + KvmRunLayout.FailEntryHardwareReason));
            case KvmConstants.ExitInternalError:
                return VcpuExit.WithHardwareReason(VcpuExitReason.InternalError, raw,
                    *(uint*)(run + KvmRunLayout.InternalSuberror));
            case KvmConstants.ExitSystemEvent:
                return VcpuExit.SystemEvent(raw, *(uint*)(run + KvmRunLayout.SystemEventType));
            default:
                return VcpuExit.Simple(VcpuExitReason.Unknown, raw);
        }
    }
}
