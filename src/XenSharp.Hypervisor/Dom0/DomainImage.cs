using System.Buffers.Binary;
using XenSharp.Abi;
using XenSharp.Hypervisor.Domains;
using XenSharp.Hypervisor.Memory;
using XenSharp.Hypervisor.Pv;

namespace XenSharp.Hypervisor.Dom0;

/// <summary>
/// What a domain builder may do to a domain that has not started (libxenguest's xc_dom_* over foreign mappings and
/// domctls): write its pages by pfn, pin its initial L4, allocate ports unbound for domain 0 and set vCPU 0's first
/// context. The builder keeps the guest's layout (where the kernel, start_info and the page tables go); the core keeps
/// its frames, locks and validator to itself.
/// <para>
/// Invariant: every operation checks the domain is still <see cref="DomainState.Created"/> — no vCPU runs, so nothing
/// but this builder writes the guest's pages and they need no lock; page-table frames are typed only by
/// <see cref="PinL4"/>, through the validator under the domain's MMU lock, as MMUEXT_PIN_L4_TABLE does.
/// </para>
/// </summary>
public sealed class DomainImage
{
    private readonly Domain _d;

    internal DomainImage(Domain domain) => _d = domain;

    public ushort DomainId => _d.Id;

    /// <summary>The domain's memory in pages (pfns 0 to NrPages − 1).</summary>
    public ulong NrPages => _d.NrPages;

    /// <summary>The machine frame behind <paramref name="pfn"/> (the P2M, as the guest's own list will hold it).</summary>
    public Mfn MfnOf(ulong pfn)
    {
        CheckPfn(pfn);
        return _d.P2m[pfn];
    }

    /// <summary>shared_info's machine frame (start_info's shared_info).</summary>
    public Mfn SharedInfo => _d.SharedInfo;

    /// <summary>Copies <paramref name="data"/> into consecutive pfns from <paramref name="firstPfn"/> (the rest of the last page is left as it was).</summary>
    public void Write(ulong firstPfn, ReadOnlySpan<byte> data)
    {
        CheckCreated();
        for (ulong off = 0; off < (ulong)data.Length; off += Mfn.PageSize)
        {
            int len = (int)Math.Min(Mfn.PageSize, (ulong)data.Length - off);
            data.Slice((int)off, len).CopyTo(Page(firstPfn + (off / Mfn.PageSize)));
        }
    }

    /// <summary>Writes one byte at <paramref name="offset"/> in <paramref name="pfn"/>.</summary>
    public void WriteByte(ulong pfn, int offset, byte value)
    {
        CheckCreated();
        Page(pfn)[offset] = value;
    }

    /// <summary>Writes one 64-bit page-table entry, slot <paramref name="index"/> of the table in <paramref name="pfn"/>.</summary>
    public void WriteEntry(ulong pfn, int index, ulong entry)
    {
        CheckCreated();
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)index, 512u, nameof(index));
        BinaryPrimitives.WriteUInt64LittleEndian(Page(pfn)[(index * 8)..], entry);
    }

    /// <summary>Writes Xen's hypercall page (one `syscall` stub per hypercall) into <paramref name="pfn"/>.</summary>
    public void WriteHypercallPage(ulong pfn) => Write(pfn, HypercallPage.Create());

    /// <summary>Masks event upcalls in every vcpu_info of shared_info (guests start with delivery masked).</summary>
    public void MaskAllUpcalls()
    {
        CheckCreated();
        Span<byte> shared = _d.SharedInfoPage;
        for (int v = 0; v < SharedInfoLayout.LegacyMaxVcpus; v++)
        {
            shared[(v * SharedInfoLayout.VcpuInfoSize) + SharedInfoLayout.UpcallMask] = 1;
        }
    }

    /// <summary>
    /// Pins the table in <paramref name="pfn"/> as an L4 through the validator (types every table below it, adjusts
    /// the entries, writes the hypervisor's slots). 0 or a negative Xen errno.
    /// </summary>
    public int PinL4(ulong pfn)
    {
        CheckCreated();
        return _d.Mmu.Pin(MfnOf(pfn), PageType.L4);
    }

    /// <summary>A port of the domain unbound for domain 0 (for a backend to bind), or a negative Xen errno.</summary>
    public int AllocUnboundForDom0()
    {
        CheckCreated();
        return _d.Events.AllocUnbound(Events.EventChannelOp.BackendDomain);
    }

    /// <summary>
    /// vCPU 0's first context: CR3 the pinned L4 in <paramref name="l4Pfn"/> (taking CR3's reference on it), RIP
    /// <paramref name="entry"/>, RSP <paramref name="stack"/>, RSI <paramref name="startInfo"/>, flat kernel segments.
    /// False if the L4 cannot be loaded.
    /// </summary>
    public bool SetInitialContext(ulong l4Pfn, ulong entry, ulong stack, ulong startInfo)
    {
        CheckCreated();
        Mfn l4 = MfnOf(l4Pfn);
        Vcpu v0 = _d.Vcpus[0];
        v0.KernelL4 = l4;
        lock (_d.Mmu.Lock)
        {
            if (_d.Mmu.Validator.GetPageAndType(l4, PageType.L4) != 0)
            {
                return false;
            }
        }

        v0.SetInitialContext(entry, stack, startInfo);
        return true;
    }

    private Span<byte> Page(ulong pfn) => _d.Pool.Frame(MfnOf(pfn));

    private void CheckPfn(ulong pfn) =>
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(pfn, _d.NrPages, nameof(pfn));

    private void CheckCreated()
    {
        if (_d.State != DomainState.Created)
        {
            throw new InvalidOperationException($"{_d} has started: its image can no longer be written");
        }
    }
}
