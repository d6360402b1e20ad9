using System.Buffers.Binary;
using XenSharp.Abi;
using XenSharp.Hypervisor.Memory;

namespace XenSharp.Hypervisor.Stub;

/// <summary>
/// One domain's private hypervisor frames: the L3/L2/L1 behind L4 slot 261 and each vCPU's window (GDT page 14,
/// data page with the TSS, ring-0 stack). All supervisor-only. They live in one extent owned by Xen on the domain's
/// behalf and are freed with the domain.
/// </summary>
internal sealed class DomainStubPages
{
    private const int FramesPerVcpu = 2 + StubLayout.StackPages;
    private readonly MachinePool _pool;

    private DomainStubPages(MachinePool pool, Extent frames, Mfn l3, int vcpus)
    {
        _pool = pool;
        Frames = frames;
        StubL3 = l3;
        VcpuCount = vcpus;
    }

    public Extent Frames { get; }

    public Mfn StubL3 { get; }

    /// <summary>The direct map's L3 (slot 262), once the domain's memory is known.</summary>
    public Mfn? DirectMapL3 { get; set; }

    public int VcpuCount { get; }

    public Mfn GdtFrame(int vcpu) => Frames.First.Add(3 + ((ulong)vcpu * FramesPerVcpu));

    public Mfn DataFrame(int vcpu) => GdtFrame(vcpu).Add(1);

    public Mfn StackFrame(int vcpu, int page) => GdtFrame(vcpu).Add(2 + (ulong)page);

    /// <summary>Machine address of the vCPU's <see cref="StubFrame"/> (the top of its ring-0 stack).</summary>
    public ulong FrameMachineAddress(int vcpu) =>
        StackFrame(vcpu, StubLayout.StackPages - 1).Address + Mfn.PageSize - StubFrame.Size;

    public ulong DataMachineAddress(int vcpu) => DataFrame(vcpu).Address;

    public static DomainStubPages Create(MachinePool pool, HypervisorPages shared, int vcpus)
    {
        if (vcpus < 1 || vcpus > StubLayout.MaxVcpus)
        {
            throw new ArgumentOutOfRangeException(nameof(vcpus), $"a domain may have 1 to {StubLayout.MaxVcpus} vCPUs");
        }

        ulong count = 3 + ((ulong)vcpus * FramesPerVcpu);
        Extent e = pool.Allocate(count, FrameOwner.Xen) ?? throw new OutOfPoolException(count);
        var pages = new DomainStubPages(pool, e, e.First, vcpus);
        Mfn l3 = e.First;
        Mfn l2 = l3.Add(1);
        Mfn l1 = l2.Add(1);
        const ulong table = PageTableFlags.Present | PageTableFlags.Writable | PageTableFlags.Accessed;
        const ulong data = table | PageTableFlags.Dirty | PageTableFlags.NoExecute;
        pool.FrameAsEntries(l3)[0] = l2.Address | table;
        Span<ulong> l2e = pool.FrameAsEntries(l2);
        l2e[0] = shared.CodeL1.Address | table;
        l2e[(int)(StubLayout.WindowsOffset >> 21)] = l1.Address | table;

        Span<ulong> l1e = pool.FrameAsEntries(l1);
        for (int v = 0; v < vcpus; v++)
        {
            int w = (int)((ulong)v * StubLayout.WindowSize >> 12);
            for (int p = 0; p < 14; p++)
            {
                l1e[w + p] = shared.ZeroFrame.Address | PageTableFlags.Present | PageTableFlags.Accessed | PageTableFlags.NoExecute;
            }

            l1e[w + 14] = pages.GdtFrame(v).Address | data;
            l1e[w + 15] = pages.DataFrame(v).Address | data;
            for (int s = 0; s < StubLayout.StackPages; s++)
            {
                l1e[w + 16 + s] = pages.StackFrame(v, s).Address | data;
            }

            pages.WriteGdtAndTss(v);
        }

        return pages;
    }

    /// <summary>A second read-only M2P mapping, in slot 257, for machines where slot 256 is unusable (see XenHypervisor.M2pVirtualStart).</summary>
    public const ulong M2pAliasStart = 0xffff808000000000;
    public const int M2pAliasSlot = 257;

    /// <summary>Points slots 256 and 257 (read-only M2P) and 261 (this domain's stub) of a guest L4 at the hypervisor's tables.</summary>
    public void InstallHypervisorSlots(Span<ulong> l4, HypervisorPages shared)
    {
        l4[XenVirtualLayout.FirstHypervisorL4Slot] = shared.M2pL3.Address | PageTableFlags.Present | PageTableFlags.User | PageTableFlags.Accessed;
        l4[M2pAliasSlot] = l4[XenVirtualLayout.FirstHypervisorL4Slot];
        l4[StubLayout.L4Slot] = StubL3.Address | PageTableFlags.Present | PageTableFlags.Writable | PageTableFlags.Accessed;
        if (DirectMapL3 is { } dm)
        {
            l4[DirectMap.L4Slot] = dm.Address | PageTableFlags.Present | PageTableFlags.Writable | PageTableFlags.Accessed;
        }
    }

    /// <summary>Maps the domain's shared_info frame into every vCPU window (supervisor-only) for the stub.</summary>
    public void MapSharedInfo(Mfn sharedInfo)
    {
        Span<ulong> l1e = _pool.FrameAsEntries(Frames.First.Add(2));
        for (int v = 0; v < VcpuCount; v++)
        {
            int w = (int)((ulong)v * StubLayout.WindowSize >> 12);
            l1e[w + (int)(StubLayout.SharedInfoOffset >> 12)] = sharedInfo.Address | PageTableFlags.Present | PageTableFlags.Writable
                | PageTableFlags.Accessed | PageTableFlags.Dirty | PageTableFlags.NoExecute;
            ulong vcpuInfo = v < Abi.SharedInfoLayout.LegacyMaxVcpus ? StubLayout.Window(v) + StubLayout.SharedInfoOffset + ((ulong)v * 64) : 0;
            System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(_pool.Frame(DataFrame(v))[StubLayout.DataVcpuInfo..], vcpuInfo);
        }
    }

    /// <summary>
    /// Points GDT page <paramref name="page"/> (0–13) of the vCPU's window at a guest frame, or back at the shared zero
    /// page when <paramref name="frame"/> is null. Guest frames are mapped supervisor-only and writable, as Xen maps
    /// them, so the CPU can set descriptors' accessed bits; the guest itself cannot reach the window. The caller holds
    /// the frame's SegmentDescriptors typed reference and flushes the vCPU's TLB.
    /// </summary>
    /// <summary>Index in the windows L1 of the entry that maps GDT page <paramref name="page"/> of a vCPU.</summary>
    public static int GdtL1Index(int vcpu, int page) => (int)((ulong)vcpu * StubLayout.WindowSize >> 12) + page;

    public void MapGuestGdtPage(int vcpu, int page, Mfn? frame, HypervisorPages shared)
    {
        if ((uint)vcpu >= (uint)VcpuCount || (uint)page >= 14)
        {
            throw new ArgumentOutOfRangeException(nameof(page));
        }

        int w = (int)((ulong)vcpu * StubLayout.WindowSize >> 12);
        _pool.FrameAsEntries(Frames.First.Add(2))[w + page] = frame is { } f
            ? f.Address | PageTableFlags.Present | PageTableFlags.Writable | PageTableFlags.Accessed | PageTableFlags.Dirty | PageTableFlags.NoExecute
            : shared.ZeroFrame.Address | PageTableFlags.Present | PageTableFlags.Accessed | PageTableFlags.NoExecute;
    }

    /// <summary>The L1 that maps every vCPU window (GDT pages, data page, stack, ...).</summary>
    public Mfn WindowsL1 => Frames.First.Add(2);

    /// <summary>The machine address GDT page <paramref name="page"/> of the vCPU's window maps (for tests and crash reports).</summary>
    public ulong GdtPageMapping(int vcpu, int page) =>
        _pool.FrameAsEntries(Frames.First.Add(2))[(int)((ulong)vcpu * StubLayout.WindowSize >> 12) + page] & PageTableFlags.AddressMask;

    /// <summary>Port I/O instructions the stub answered in the VM, over all vCPUs (<see cref="StubPortIo"/>).</summary>
    public long PortIoInVm() => SumOverVcpus(StubLayout.DataPortIoInVm);

    /// <summary>Hypercalls <paramref name="number"/> the stub answered in the VM, over all vCPUs (<see cref="StubHypercalls"/>); 0 for any other number.</summary>
    public long HypercallsInVm(int number) => number switch
    {
        Abi.HypercallNumber.SetSegmentBase => SumOverVcpus(StubLayout.DataSegmentBaseInVm),
        Abi.HypercallNumber.StackSwitch => SumOverVcpus(StubLayout.DataStackSwitchInVm),
        _ => 0,
    };

    private long SumOverVcpus(int offset)
    {
        long sum = 0;
        for (int v = 0; v < VcpuCount; v++)
        {
            sum += (long)BinaryPrimitives.ReadUInt64LittleEndian(_pool.Memory.GetSpan(DataMachineAddress(v) + (ulong)offset, 8));
        }

        return sum;
    }

    public void SetKernelMode(int vcpu, bool kernel) =>
        _pool.Memory.GetSpan(DataMachineAddress(vcpu) + StubLayout.DataKernelMode, 1)[0] = kernel ? (byte)1 : (byte)0;

    private void WriteGdtAndTss(int vcpu)
    {
        Mfn gdtFrame = GdtFrame(vcpu);
        void Put(ushort selector, ulong value) =>
            BinaryPrimitives.WriteUInt64LittleEndian(_pool.Frame(gdtFrame)[((selector & ~7) - XenSelectors.FirstReservedGdtByte)..], value);
        Put(XenSelectors.HypervisorCs64, X86Descriptors.Ring0Code64);
        Put(XenSelectors.HypervisorDs, X86Descriptors.Ring0Data);
        Put(XenSelectors.FlatRing3Cs32, X86Descriptors.Ring3Code32);
        Put(XenSelectors.FlatRing3Ds, X86Descriptors.Ring3Data);
        Put(XenSelectors.FlatRing3Cs64, X86Descriptors.Ring3Code64);
        (ulong low, ulong high) = X86Descriptors.BusyTss(StubLayout.DataPage(vcpu), StubLayout.TssSize - 1);
        Put(XenSelectors.Tss, low);
        Put((ushort)(XenSelectors.Tss + 8), high);

        Span<byte> tss = _pool.Frame(DataFrame(vcpu));
        BinaryPrimitives.WriteUInt64LittleEndian(tss[4..], StubLayout.StackTop(vcpu)); // RSP0
        BinaryPrimitives.WriteUInt16LittleEndian(tss[102..], StubLayout.TssSize);       // I/O bitmap beyond the limit: every port denied
        BinaryPrimitives.WriteUInt32LittleEndian(tss[StubLayout.DataVcpuId..], (uint)vcpu);
        tss[StubLayout.DataKernelMode] = 1;
    }
}
