using System.Buffers.Binary;
using System.Text;
using XenSharp.Abi;
using XenSharp.Hypervisor;
using XenSharp.Hypervisor.Dom0;
using XenSharp.Hypervisor.Domains;
using XenSharp.Hypervisor.Memory;
using XenSharp.Toolstack.Config;
using XenSharp.Toolstack.Image;

namespace XenSharp.Toolstack.Builder;

/// <summary>
/// Builds a 64-bit PV domain the way Xen's toolstack does (libxenguest's x86 PV path): loads the kernel, writes the
/// P2M list, start_info, xenstore and console pages (with their event channels), the initial 4-level page tables (page-table frames mapped
/// read-only, typed and the L4 pinned in the frame table), the hypercall page and shared_info, and prepares vCPU 0.
/// It decides the layout and writes through Domain 0's interface (<see cref="DomainControl"/>, <see cref="DomainImage"/>)
/// as libxenguest writes through foreign mappings and domctls; it never reaches the core's memory itself.
/// </summary>
public static class PvDomainBuilder
{
    private const ulong TableFlags = PageTableFlags.Present | PageTableFlags.Writable | PageTableFlags.Accessed | PageTableFlags.Dirty | PageTableFlags.User;

    /// <summary>Builds the domain; returns its id.</summary>
    public static ushort Build(XenHypervisor hypervisor, BuildRequest request, IConsoleSink console) =>
        Build(hypervisor, request, console, out _);

    /// <summary>
    /// Builds the domain and reports its xenstore and PV console rings as the toolstack hands them to their backends:
    /// each page's frame and the port allocated unbound for domain 0 (also in start_info).
    /// </summary>
    public static ushort Build(XenHypervisor hypervisor, BuildRequest request, IConsoleSink console, out DomainRings rings)
    {
        KernelImage image = request.Kernel;
        XenGuestInfo info = image.Xen;
        ulong nrPages = (ulong)request.MemoryMiB * 256;
        ulong ramdiskBytes = (ulong)(request.Ramdisk?.Length ?? 0);
        PvLayout layout = PvLayout.Compute(info.VirtBase, info.VirtKernelStart, info.VirtKernelEnd, nrPages, ramdiskBytes, info.ModStartPfn);

        DomainControl control = hypervisor.Control;
        ulong free = control.FreePages;
        ulong freeMiB = free / 256;
        if (nrPages + 64 > free)
        {
            throw new DomainBuildException($"memory={request.MemoryMiB} MiB does not fit: the hypervisor's pool has {freeMiB} MiB free (see --pool-mb)");
        }

        ushort domid;
        try
        {
            domid = control.Create(request.Name, request.Vcpus, nrPages, console);
        }
        catch (OutOfPoolException)
        {
            throw new DomainBuildException($"memory={request.MemoryMiB} MiB does not fit in the hypervisor's pool ({freeMiB} MiB free, see --pool-mb)");
        }

        try
        {
            if (request.Scheduling is { } sched && control.SetSchedulerParameters(domid, sched) is int rc and not 0 and not -XenErrno.ENOSYS)
            {
                throw new DomainBuildException($"the scheduler refused the domain's parameters (error {rc})");
            }

            SetAffinity(control, domid, request);

            DomainImage built = control.OpenImage(domid);
            (int storePort, int consolePort) = Populate(built, request, layout);
            rings = new DomainRings(built.MfnOf(layout.XenstorePfn), storePort, built.MfnOf(layout.ConsolePfn), consolePort);
            return domid;
        }
        catch
        {
            control.Destroy(domid);
            throw;
        }
    }

    /// <summary>Fills the domain's memory and start state; returns the xenstore and console event channels.</summary>
    private static (int StorePort, int ConsolePort) Populate(DomainImage d, BuildRequest request, PvLayout layout)
    {
        XenGuestInfo info = request.Kernel.Xen;

        // Kernel image, zero-filled to its end.
        var kernel = new byte[layout.KernelPages * PvLayout.PageSize];
        ulong offsetInFirstPage = info.VirtKernelStart - layout.VirtOf(layout.KernelPfn);
        request.Kernel.CopyTo(kernel.AsSpan((int)offsetInFirstPage));
        d.Write(layout.KernelPfn, kernel);

        if (request.Ramdisk is { Length: > 0 } rd)
        {
            d.Write(layout.RamdiskPfn, rd);
        }

        // P2M list: the MFN of every pfn.
        var p2m = new byte[layout.P2mPages * PvLayout.PageSize];
        for (ulong pfn = 0; pfn < d.NrPages; pfn++)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(p2m.AsSpan((int)(pfn * 8)), d.MfnOf(pfn).Value);
        }

        d.Write(layout.P2mPfn, p2m);

        d.WriteByte(layout.ConsolePfn, XenConsoleLayout.Connection, XenConsoleLayout.Disconnected);

        if (info.HypercallPage is { } hcVa)
        {
            d.WriteHypercallPage((hcVa - layout.VirtBase) / PvLayout.PageSize);
        }

        BuildPageTables(d, layout);
        // libxl allocates the xenstore port, then the console port, unbound for their backends in domain 0 (xenstored and
        // xenconsoled), so they get ports 1 and 2.
        int storePort = d.AllocUnboundForDom0();
        int consolePort = d.AllocUnboundForDom0();
        if (storePort < 0 || consolePort < 0)
        {
            throw new DomainBuildException($"cannot allocate the xenstore and console event channels: error {Math.Min(storePort, consolePort)}");
        }

        var si = new byte[PvLayout.PageSize];
        WriteStartInfo(d, layout, request, si, storePort, consolePort);
        d.Write(layout.StartInfoPfn, si);
        d.MaskAllUpcalls(); // guests start with event delivery masked

        if (!d.SetInitialContext(layout.PageTablePfn, info.Entry, layout.VirtOf(layout.StackPfn + 1), layout.VirtOf(layout.StartInfoPfn)))
        {
            throw new DomainBuildException("the initial L4 cannot be loaded");
        }

        return (storePort, consolePort);
    }

    /// <summary>
    /// Writes the initial tables in the toolstack's form (L1 entries P|RW|A, read-only for the page-table frames
    /// themselves; L2–L4 entries P|RW|A|D|U), then pins the L4 through the domain's validator, which types every frame,
    /// adjusts the entries (U and the guest-kernel bit on L1 entries) and writes the hypervisor's L4 slots — as
    /// libxenguest's MMUEXT_PIN_L4_TABLE does.
    /// </summary>
    private static void BuildPageTables(DomainImage d, PvLayout layout)
    {
        ulong ptPfn = layout.PageTablePfn;
        ulong next = ptPfn + 1;
        var l3s = new Dictionary<ulong, ulong>(); // table pfns by the address bits above them
        var l2s = new Dictionary<ulong, ulong>();
        var l1s = new Dictionary<ulong, ulong>();
        ulong firstTable = ptPfn;
        ulong lastTable = ptPfn + (ulong)layout.PageTableCount;

        // Allocate in Xen's order: all L3s, then L2s, then L1s, each by ascending address.
        ulong start = layout.VirtBase;
        ulong end = layout.MappingEnd;
        ulong last = end - 1;
        for (ulong k = start >> 39; k <= last >> 39; k++) { l3s[k] = next++; }
        for (ulong k = start >> 30; k <= last >> 30; k++) { l2s[k] = next++; }
        for (ulong k = start >> 21; k <= last >> 21; k++) { l1s[k] = next++; }

        foreach ((ulong key, ulong l3) in l3s)
        {
            d.WriteEntry(ptPfn, (int)(key & 511), d.MfnOf(l3).Address | TableFlags);
        }

        foreach ((ulong key, ulong l2) in l2s)
        {
            d.WriteEntry(l3s[key >> 9], (int)(key & 511), d.MfnOf(l2).Address | TableFlags);
        }

        foreach ((ulong key, ulong l1) in l1s)
        {
            d.WriteEntry(l2s[key >> 9], (int)(key & 511), d.MfnOf(l1).Address | TableFlags);
        }

        for (ulong pfn = 0; pfn < layout.MappedPages; pfn++)
        {
            ulong va = layout.VirtOf(pfn);
            bool isTable = pfn >= firstTable && pfn < lastTable;
            ulong entry = d.MfnOf(pfn).Address | PageTableFlags.Present | PageTableFlags.Accessed | (isTable ? 0 : PageTableFlags.Writable);
            d.WriteEntry(l1s[va >> 21], (int)((va >> 12) & 511), entry);
        }

        int rc = d.PinL4(ptPfn);
        if (rc != 0)
        {
            throw new DomainBuildException($"the initial page tables do not validate (error {rc})");
        }
    }

    // cpus= and cpus_soft=, vCPU by vCPU, before any of them runs; a CPU the host lacks fails the build in one line.
    // Without a scheduler (no physical-CPU slots) there is nothing to pin to, as with the BVT parameters.
    private static void SetAffinity(DomainControl control, ushort domid, BuildRequest request)
    {
        if ((request.HardAffinity is null && request.SoftAffinity is null) || control.PhysicalCpus == 0)
        {
            return;
        }

        for (int v = 0; v < request.Vcpus; v++)
        {
            SortedSet<int>? hard = Affinity(request.HardAffinity, v, control.PhysicalCpus);
            SortedSet<int>? soft = Affinity(request.SoftAffinity, v, control.PhysicalCpus);
            if ((hard is not null || soft is not null) && control.SetVcpuAffinity(domid, v, hard, soft) is int rc and not 0)
            {
                throw new DomainBuildException($"the scheduler refused vCPU {v}'s affinity (error {rc})");
            }
        }
    }

    private static SortedSet<int>? Affinity(VcpuAffinity? affinity, int vcpu, int cpus)
    {
        try
        {
            return affinity?.For(vcpu, cpus);
        }
        catch (CpuMapException e)
        {
            throw new DomainBuildException($"{affinity!.Key} (vCPU {vcpu}): {e.Message} (see --pcpus)");
        }
    }

    private static void WriteStartInfo(DomainImage d, PvLayout layout, BuildRequest request, Span<byte> si, int storePort, int consolePort)
    {
        Encoding.ASCII.GetBytes(StartInfoLayout.Magic64, si[StartInfoLayout.MagicOffset..]);
        BinaryPrimitives.WriteUInt64LittleEndian(si[StartInfoLayout.NrPages..], d.NrPages);
        BinaryPrimitives.WriteUInt64LittleEndian(si[StartInfoLayout.SharedInfo..], d.SharedInfo.Address);
        BinaryPrimitives.WriteUInt32LittleEndian(si[StartInfoLayout.Flags..], layout.RamdiskByPfn ? StartInfoLayout.SifModStartPfn : 0);
        BinaryPrimitives.WriteUInt64LittleEndian(si[StartInfoLayout.StoreMfn..], d.MfnOf(layout.XenstorePfn).Value);
        BinaryPrimitives.WriteUInt32LittleEndian(si[StartInfoLayout.StoreEvtchn..], (uint)storePort);
        BinaryPrimitives.WriteUInt64LittleEndian(si[StartInfoLayout.ConsoleMfn..], d.MfnOf(layout.ConsolePfn).Value);
        BinaryPrimitives.WriteUInt32LittleEndian(si[StartInfoLayout.ConsoleEvtchn..], (uint)consolePort);
        BinaryPrimitives.WriteUInt64LittleEndian(si[StartInfoLayout.PtBase..], layout.VirtOf(layout.PageTablePfn));
        BinaryPrimitives.WriteUInt64LittleEndian(si[StartInfoLayout.NrPtFrames..], (ulong)layout.PageTableCount);
        BinaryPrimitives.WriteUInt64LittleEndian(si[StartInfoLayout.MfnList..], layout.VirtOf(layout.P2mPfn));
        if (request.Ramdisk is { Length: > 0 } rd)
        {
            ulong modStart = layout.RamdiskByPfn ? layout.RamdiskPfn : layout.VirtOf(layout.RamdiskPfn);
            ulong modLen = layout.RamdiskByPfn ? layout.RamdiskPages * PvLayout.PageSize : (ulong)rd.Length;
            BinaryPrimitives.WriteUInt64LittleEndian(si[StartInfoLayout.ModStart..], modStart);
            BinaryPrimitives.WriteUInt64LittleEndian(si[StartInfoLayout.ModLen..], modLen);
        }

        byte[] cmd = Encoding.UTF8.GetBytes(request.CommandLine);
        cmd.AsSpan(0, Math.Min(cmd.Length, StartInfoLayout.CmdLineSize - 1)).CopyTo(si[StartInfoLayout.CmdLine..]);
    }
}
