using System.Buffers.Binary;
using System.Text;
using XenSharp.Abi;
using XenSharp.Hypervisor;
using XenSharp.Hypervisor.Domains;
using XenSharp.Hypervisor.Events;
using XenSharp.Hypervisor.Memory;
using XenSharp.Hypervisor.Pv;
using XenSharp.Toolstack.Image;

namespace XenSharp.Toolstack.Builder;

/// <summary>
/// Builds a 64-bit PV domain the way Xen's toolstack does (libxenguest's x86 PV path): loads the kernel, writes the
/// P2M list, start_info, xenstore and console pages (with their event channels), the initial 4-level page tables (page-table frames mapped
/// read-only, typed and the L4 pinned in the frame table), the hypercall page and shared_info, and prepares vCPU 0.
/// </summary>
public static class PvDomainBuilder
{
    private const ulong TableFlags = PageTableFlags.Present | PageTableFlags.Writable | PageTableFlags.Accessed | PageTableFlags.Dirty | PageTableFlags.User;

    public static Domain Build(XenHypervisor hypervisor, BuildRequest request, IConsoleSink console) =>
        Build(hypervisor, request, console, out _);

    /// <summary>
    /// Builds the domain and reports its xenstore and PV console rings as the toolstack hands them to their backends:
    /// each page's frame and the port allocated unbound for domain 0 (also in start_info).
    /// </summary>
    public static Domain Build(XenHypervisor hypervisor, BuildRequest request, IConsoleSink console, out DomainRings rings)
    {
        KernelImage image = request.Kernel;
        XenGuestInfo info = image.Xen;
        ulong nrPages = (ulong)request.MemoryMiB * 256;
        ulong ramdiskBytes = (ulong)(request.Ramdisk?.Length ?? 0);
        PvLayout layout = PvLayout.Compute(info.VirtBase, info.VirtKernelStart, info.VirtKernelEnd, nrPages, ramdiskBytes, info.ModStartPfn);

        ulong freeMiB = hypervisor.Pool.FreeFrames / 256;
        if (nrPages + 64 > hypervisor.Pool.FreeFrames)
        {
            throw new DomainBuildException($"memory={request.MemoryMiB} MiB does not fit: the hypervisor's pool has {freeMiB} MiB free (see --pool-mb)");
        }

        Domain d;
        try
        {
            d = hypervisor.CreateDomain(request.Name, request.Vcpus, nrPages, console);
        }
        catch (OutOfPoolException)
        {
            throw new DomainBuildException($"memory={request.MemoryMiB} MiB does not fit in the hypervisor's pool ({freeMiB} MiB free, see --pool-mb)");
        }

        try
        {
            (int storePort, int consolePort) = Populate(hypervisor, d, request, layout);
            rings = new DomainRings(d.P2m[layout.XenstorePfn], storePort, d.P2m[layout.ConsolePfn], consolePort);
            return d;
        }
        catch
        {
            hypervisor.Destroy(d);
            throw;
        }
    }

    /// <summary>Fills the domain's memory and start state; returns the xenstore and console event channels.</summary>
    private static (int StorePort, int ConsolePort) Populate(XenHypervisor hv, Domain d, BuildRequest request, PvLayout layout)
    {
        MachinePool pool = hv.Pool;
        Span<byte> Page(ulong pfn) => pool.Frame(d.P2m[pfn]);
        XenGuestInfo info = request.Kernel.Xen;

        // Kernel image, zero-filled to its end.
        var kernel = new byte[layout.KernelPages * PvLayout.PageSize];
        ulong offsetInFirstPage = info.VirtKernelStart - layout.VirtOf(layout.KernelPfn);
        request.Kernel.CopyTo(kernel.AsSpan((int)offsetInFirstPage));
        CopyToPfns(pool, d, layout.KernelPfn, kernel);

        if (request.Ramdisk is { Length: > 0 } rd)
        {
            CopyToPfns(pool, d, layout.RamdiskPfn, rd);
        }

        // P2M list: the MFN of every pfn.
        var p2m = new byte[layout.P2mPages * PvLayout.PageSize];
        for (ulong pfn = 0; pfn < d.NrPages; pfn++)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(p2m.AsSpan((int)(pfn * 8)), d.P2m[pfn].Value);
        }

        CopyToPfns(pool, d, layout.P2mPfn, p2m);

        Page(layout.ConsolePfn)[XenConsoleLayout.Connection] = XenConsoleLayout.Disconnected;

        if (info.HypercallPage is { } hcVa)
        {
            ulong pfn = (hcVa - layout.VirtBase) / PvLayout.PageSize;
            HypercallPage.Create().CopyTo(Page(pfn));
        }

        Mfn l4 = BuildPageTables(hv, d, layout);
        // libxl allocates the xenstore port, then the console port, unbound for their backends in domain 0 (xenstored and
        // xenconsoled), so they get ports 1 and 2.
        int storePort = d.Events.AllocUnbound(EventChannelOp.BackendDomain);
        int consolePort = d.Events.AllocUnbound(EventChannelOp.BackendDomain);
        if (storePort < 0 || consolePort < 0)
        {
            throw new DomainBuildException($"cannot allocate the xenstore and console event channels: error {Math.Min(storePort, consolePort)}");
        }

        WriteStartInfo(d, layout, request, Page(layout.StartInfoPfn), storePort, consolePort);
        WriteSharedInfo(d);

        Vcpu v0 = d.Vcpus[0];
        v0.KernelL4 = l4;
        lock (d.Mmu.Lock)
        {
            if (d.Mmu.Validator.GetPageAndType(l4, PageType.L4) != 0) // CR3's reference
            {
                throw new DomainBuildException("the initial L4 cannot be loaded");
            }
        }

        v0.SetInitialContext(info.Entry, layout.VirtOf(layout.StackPfn + 1), layout.VirtOf(layout.StartInfoPfn));
        return (storePort, consolePort);
    }

    /// <summary>
    /// Writes the initial tables in the toolstack's form (L1 entries P|RW|A, read-only for the page-table frames
    /// themselves; L2–L4 entries P|RW|A|D|U), then pins the L4 through the domain's validator, which types every frame,
    /// adjusts the entries (U and the guest-kernel bit on L1 entries) and writes the hypervisor's L4 slots — as
    /// libxenguest's MMUEXT_PIN_L4_TABLE does.
    /// </summary>
    private static Mfn BuildPageTables(XenHypervisor hv, Domain d, PvLayout layout)
    {
        MachinePool pool = hv.Pool;
        ulong ptPfn = layout.PageTablePfn;
        Mfn l4 = d.P2m[ptPfn];
        ulong next = ptPfn + 1;
        var l3s = new Dictionary<ulong, Mfn>();
        var l2s = new Dictionary<ulong, Mfn>();
        var l1s = new Dictionary<ulong, Mfn>();
        ulong firstTable = ptPfn;
        ulong lastTable = ptPfn + (ulong)layout.PageTableCount;

        // Allocate in Xen's order: all L3s, then L2s, then L1s, each by ascending address.
        ulong start = layout.VirtBase;
        ulong end = layout.MappingEnd;
        ulong last = end - 1;
        for (ulong k = start >> 39; k <= last >> 39; k++) { l3s[k] = d.P2m[next++]; }
        for (ulong k = start >> 30; k <= last >> 30; k++) { l2s[k] = d.P2m[next++]; }
        for (ulong k = start >> 21; k <= last >> 21; k++) { l1s[k] = d.P2m[next++]; }

        Span<ulong> l4e = pool.FrameAsEntries(l4);
        foreach ((ulong key, Mfn l3) in l3s)
        {
            l4e[(int)(key & 511)] = l3.Address | TableFlags;
        }

        foreach ((ulong key, Mfn l2) in l2s)
        {
            pool.FrameAsEntries(l3s[key >> 9])[(int)(key & 511)] = l2.Address | TableFlags;
        }

        foreach ((ulong key, Mfn l1) in l1s)
        {
            pool.FrameAsEntries(l2s[key >> 9])[(int)(key & 511)] = l1.Address | TableFlags;
        }

        for (ulong pfn = 0; pfn < layout.MappedPages; pfn++)
        {
            ulong va = layout.VirtOf(pfn);
            bool isTable = pfn >= firstTable && pfn < lastTable;
            ulong entry = d.P2m[pfn].Address | PageTableFlags.Present | PageTableFlags.Accessed | (isTable ? 0 : PageTableFlags.Writable);
            pool.FrameAsEntries(l1s[va >> 21])[(int)((va >> 12) & 511)] = entry;
        }

        int rc = d.Mmu.Pin(l4, PageType.L4);
        if (rc != 0)
        {
            throw new DomainBuildException($"the initial page tables do not validate (error {rc})");
        }

        return l4;
    }

    private static void WriteStartInfo(Domain d, PvLayout layout, BuildRequest request, Span<byte> si, int storePort, int consolePort)
    {
        Encoding.ASCII.GetBytes(StartInfoLayout.Magic64, si[StartInfoLayout.MagicOffset..]);
        BinaryPrimitives.WriteUInt64LittleEndian(si[StartInfoLayout.NrPages..], d.NrPages);
        BinaryPrimitives.WriteUInt64LittleEndian(si[StartInfoLayout.SharedInfo..], d.SharedInfo.Address);
        BinaryPrimitives.WriteUInt32LittleEndian(si[StartInfoLayout.Flags..], layout.RamdiskByPfn ? StartInfoLayout.SifModStartPfn : 0);
        BinaryPrimitives.WriteUInt64LittleEndian(si[StartInfoLayout.StoreMfn..], d.P2m[layout.XenstorePfn].Value);
        BinaryPrimitives.WriteUInt32LittleEndian(si[StartInfoLayout.StoreEvtchn..], (uint)storePort);
        BinaryPrimitives.WriteUInt64LittleEndian(si[StartInfoLayout.ConsoleMfn..], d.P2m[layout.ConsolePfn].Value);
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

    private static void WriteSharedInfo(Domain d)
    {
        Span<byte> shared = d.SharedInfoPage;
        for (int v = 0; v < SharedInfoLayout.LegacyMaxVcpus; v++)
        {
            // Guests start with event delivery masked.
            shared[(v * SharedInfoLayout.VcpuInfoSize) + SharedInfoLayout.UpcallMask] = 1;
        }
    }

    private static void CopyToPfns(MachinePool pool, Domain d, ulong firstPfn, ReadOnlySpan<byte> data)
    {
        for (ulong off = 0; off < (ulong)data.Length; off += PvLayout.PageSize)
        {
            int len = (int)Math.Min(PvLayout.PageSize, (ulong)data.Length - off);
            data.Slice((int)off, len).CopyTo(pool.Frame(d.P2m[firstPfn + (off / PvLayout.PageSize)]));
        }
    }
}
