namespace XenSharp.Toolstack.Builder;

/// <summary>
/// Where the PV builder puts things in a new domain's pseudo-physical space, in Xen's order: kernel, (initrd), P2M
/// list, start_info, xenstore page, console page, page tables (L4, L3s, L2s, L1s), boot stack; the initial mapping
/// then runs from VirtBase to a 4 MiB boundary at least 512 KiB past the stack. VA = VirtBase + pfn * 4 KiB inside it.
/// </summary>
public sealed record PvLayout
{
    public const ulong PageSize = 4096;
    private const ulong Slack = 512 * 1024;
    private const ulong MappingAlign = 4 * 1024 * 1024;

    public required ulong VirtBase { get; init; }
    public required ulong KernelPfn { get; init; }
    public required ulong KernelPages { get; init; }
    public ulong RamdiskPfn { get; init; }
    public ulong RamdiskPages { get; init; }
    /// <summary>The initrd lies outside the initial mapping and start_info gives its pfn (the kernel's MOD_START_PFN note).</summary>
    public bool RamdiskByPfn { get; init; }
    public required ulong P2mPfn { get; init; }
    public required ulong P2mPages { get; init; }
    public required ulong StartInfoPfn { get; init; }
    public required ulong XenstorePfn { get; init; }
    public required ulong ConsolePfn { get; init; }
    public required ulong PageTablePfn { get; init; }
    public required int L3Tables { get; init; }
    public required int L2Tables { get; init; }
    public required int L1Tables { get; init; }
    public required ulong StackPfn { get; init; }
    /// <summary>Pages mapped by the initial page tables, from VirtBase.</summary>
    public required ulong MappedPages { get; init; }

    public int PageTableCount => 1 + L3Tables + L2Tables + L1Tables;

    public ulong VirtOf(ulong pfn) => VirtBase + (pfn * PageSize);

    public ulong MappingEnd => VirtOf(MappedPages);

    /// <summary>Pages the layout needs in all, including an initrd placed after the mapping.</summary>
    public ulong PagesNeeded => RamdiskByPfn && RamdiskPages > 0 ? RamdiskPfn + RamdiskPages : MappedPages;

    public static PvLayout Compute(ulong virtBase, ulong kernelStart, ulong kernelEnd, ulong nrPages, ulong ramdiskBytes, bool modStartPfn)
    {
        if (kernelStart < virtBase || kernelEnd <= kernelStart || (virtBase & (PageSize - 1)) != 0)
        {
            throw new DomainBuildException($"kernel range 0x{kernelStart:x}-0x{kernelEnd:x} does not fit above VIRT_BASE 0x{virtBase:x}");
        }

        ulong kernelPfn = (kernelStart - virtBase) / PageSize;
        ulong kernelPages = DivUp(kernelEnd - virtBase, PageSize) - kernelPfn;
        ulong cursor = kernelPfn + kernelPages;
        ulong ramdiskPages = DivUp(ramdiskBytes, PageSize);
        ulong ramdiskPfn = 0;
        if (ramdiskPages > 0 && !modStartPfn)
        {
            ramdiskPfn = cursor;
            cursor += ramdiskPages;
        }

        ulong p2mPfn = cursor;
        ulong p2mPages = DivUp(nrPages * 8, PageSize);
        cursor += p2mPages;
        ulong startInfo = cursor++;
        ulong xenstore = cursor++;
        ulong console = cursor++;
        ulong pageTables = cursor;

        // The tables must map themselves, so grow the count until it covers the mapping it implies.
        int l3 = 0, l2 = 0, l1 = 0;
        ulong mappedEnd;
        while (true)
        {
            ulong stack = pageTables + 1 + (ulong)(l3 + l2 + l1);
            ulong lastVa = virtBase + ((stack + 1) * PageSize) + Slack;
            mappedEnd = DivUp(lastVa, MappingAlign) * MappingAlign;
            if (mappedEnd < lastVa)
            {
                throw new DomainBuildException("the initial mapping overflows the address space");
            }

            (int n3, int n2, int n1) = CountTables(virtBase, mappedEnd);
            if (n3 == l3 && n2 == l2 && n1 == l1)
            {
                break;
            }

            (l3, l2, l1) = (n3, n2, n1);
        }

        ulong stackPfn = pageTables + 1 + (ulong)(l3 + l2 + l1);
        ulong mapped = (mappedEnd - virtBase) / PageSize;
        var layout = new PvLayout
        {
            VirtBase = virtBase,
            KernelPfn = kernelPfn,
            KernelPages = kernelPages,
            RamdiskPfn = modStartPfn && ramdiskPages > 0 ? mapped : ramdiskPfn,
            RamdiskPages = ramdiskPages,
            RamdiskByPfn = modStartPfn && ramdiskPages > 0,
            P2mPfn = p2mPfn,
            P2mPages = p2mPages,
            StartInfoPfn = startInfo,
            XenstorePfn = xenstore,
            ConsolePfn = console,
            PageTablePfn = pageTables,
            L3Tables = l3,
            L2Tables = l2,
            L1Tables = l1,
            StackPfn = stackPfn,
            MappedPages = mapped,
        };
        if (layout.PagesNeeded > nrPages)
        {
            throw new DomainBuildException(
                $"memory too small: the kernel, its boot data and initial mapping need {DivUp(layout.PagesNeeded * PageSize, 1 << 20)} MiB, the domain has {nrPages * PageSize >> 20} MiB");
        }

        return layout;
    }

    /// <summary>How many L3, L2 and L1 tables map [start, end): one per distinct 512 GiB, 1 GiB and 2 MiB region.</summary>
    public static (int L3, int L2, int L1) CountTables(ulong start, ulong end)
    {
        ulong last = end - 1;
        static int Count(ulong s, ulong l, int shift) => (int)((l >> shift) - (s >> shift) + 1);
        return (Count(start, last, 39), Count(start, last, 30), Count(start, last, 21));
    }

    private static ulong DivUp(ulong value, ulong unit) => (value + unit - 1) / unit;
}
