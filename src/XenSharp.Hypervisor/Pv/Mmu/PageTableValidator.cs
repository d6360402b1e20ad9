using XenSharp.Abi;
using XenSharp.Hypervisor.Domains;
using XenSharp.Hypervisor.Memory;

namespace XenSharp.Hypervisor.Pv.Mmu;

/// <summary>
/// The PV MMU's type system for one domain, after Xen's get_page_type/put_page_type (xen/arch/x86/mm.c). The guest
/// owns its hardware page tables; every entry the hardware can walk was checked here first.
/// <para>Invariants (see docs/pv-mmu.md):</para>
/// <list type="number">
/// <item>A frame's type (Writable, L1–L4, SegmentDescriptors) is fixed while its type count is non-zero; every typed
/// reference also holds a general reference, so TypeCount ≤ RefCount. At type count zero the type is None.</item>
/// <item>A page-table or descriptor frame is validated on its type count's 0→1 transition (every present entry checked
/// and its reference taken) and devalidated on 1→0 (every entry's reference dropped). A frame of type L<i>n</i> with a
/// non-zero type count is therefore always fully validated.</item>
/// <item>A present L1 entry holds a general reference on its frame, plus a Writable type reference if it has RW: a frame
/// mapped writable can never become a page table or descriptor page, and a page table can never be mapped writable.</item>
/// <item>A present L2/L3/L4 entry holds an L1/L2/L3 typed reference on its frame — or, for a read-only linear
/// (recursive) entry, a same-level typed reference on an already validated table (none when it points at itself).
/// A table either holds linear entries or is the target of them, never both, so devalidation never recurses more than
/// one linear hop.</item>
/// <item>Only frames the domain owns are ever referenced. L4 slots 256–271 are the hypervisor's: validation ignores
/// what the guest put there and writes the hypervisor's entries. The one kind of L1 entry to a frame the domain does
/// not own is a grant mapping of another domain's frame, written by the grant code; it holds no reference here (the
/// grant mapping does) and is skipped when dropped, and an L1 holding one cannot be validated again.</item>
/// </list>
/// Callers hold <see cref="DomainMmu.Lock"/>. Errors are negative Xen errno values.
/// </summary>
internal sealed class PageTableValidator
{
    /// <summary>L1 flags a domain without I/O privileges may not set: PWT, PCD, PAT and _PAGE_GNTTAB (bit 62).</summary>
    public const ulong L1DisallowMask = PageTableFlags.WriteThrough | PageTableFlags.CacheDisable | PageTableFlags.PageSize | (1UL << 62);

    /// <summary>L2–L4 flags never allowed: PWT, PCD, PSE (no superpages) and G.</summary>
    public const ulong UpperDisallowMask = PageTableFlags.WriteThrough | PageTableFlags.CacheDisable | PageTableFlags.PageSize | PageTableFlags.Global;

    /// <summary>The MFN Xen treats as INVALID_MFN in an entry (all 40 address bits set): -EINVAL rather than -EPERM.</summary>
    private const ulong InvalidEntryMfn = PageTableFlags.AddressMask >> Mfn.PageShift;

    private readonly Domain _domain;
    private readonly DomainMmu _mmu;
    private readonly MachinePool _pool;
    private readonly FrameTable _frames;
    private readonly ushort _id;

    /// <summary>Xen's linear_pt_count: &gt; 0 the table holds that many linear entries, &lt; 0 that many entries use it linearly.</summary>
    private readonly Dictionary<ulong, int> _linear = new();

    /// <summary>Frames in the middle of validation: not yet usable as linear targets or for further references.</summary>
    private readonly HashSet<ulong> _validating = new();

    internal PageTableValidator(Domain domain, DomainMmu mmu)
    {
        _domain = domain;
        _mmu = mmu;
        _pool = domain.Pool;
        _frames = domain.Pool.Frames;
        _id = domain.Id;
    }

    public static bool IsPageTable(PageType t) => t is PageType.L1 or PageType.L2 or PageType.L3 or PageType.L4;

    public static PageType TableType(int level) => level switch
    {
        1 => PageType.L1,
        2 => PageType.L2,
        3 => PageType.L3,
        4 => PageType.L4,
        _ => throw new ArgumentOutOfRangeException(nameof(level)),
    };

    public static Mfn EntryMfn(ulong entry) => new((entry & PageTableFlags.AddressMask) >> Mfn.PageShift);

    /// <summary>L4 slots the guest owns (all but the hypervisor's 256–271).</summary>
    public static bool IsGuestL4Slot(int index) =>
        index < XenVirtualLayout.FirstHypervisorL4Slot || index > XenVirtualLayout.LastHypervisorL4Slot;

    /// <summary>Xen's adjust_guest_l1e for 64-bit PV: kernel pages get U and _PAGE_GUEST_KERNEL, user pages U and G.</summary>
    public static ulong AdjustL1(ulong e)
    {
        if ((e & PageTableFlags.Present) == 0)
        {
            return e;
        }

        if ((e & PageTableFlags.User) == 0)
        {
            e |= PageTableFlags.GuestKernel | PageTableFlags.User;
        }

        if ((e & PageTableFlags.GuestKernel) == 0)
        {
            e |= PageTableFlags.Global | PageTableFlags.User;
        }

        return e;
    }

    /// <summary>Xen's adjust_guest_l2e/l3e/l4e for 64-bit PV: U, and A on L4 entries.</summary>
    public static ulong AdjustUpper(ulong e, int level)
    {
        if ((e & PageTableFlags.Present) == 0)
        {
            return e;
        }

        return e | PageTableFlags.User | (level == 4 ? PageTableFlags.Accessed : 0);
    }

    public bool Owns(Mfn mfn) => _frames.Contains(mfn) && _frames[mfn].Owner == _id;

    /// <summary>True when the frame is this domain's and validated as <paramref name="type"/> (in use as that type).</summary>
    public bool IsValidated(Mfn mfn, PageType type) =>
        Owns(mfn) && _frames[mfn].Type == type && _frames[mfn].TypeCount > 0 && !_validating.Contains(mfn.Value);

    // ---- general and typed references -------------------------------------------------------------------------

    /// <summary>Takes a general reference on a frame the domain owns (Xen's get_page), else -EINVAL.</summary>
    public int GetPage(Mfn mfn)
    {
        if (!Owns(mfn))
        {
            return -XenErrno.EINVAL;
        }

        ref FrameInfo f = ref _frames[mfn];
        if (f.RefCount == uint.MaxValue)
        {
            return -XenErrno.EINVAL;
        }

        f.RefCount++;
        return 0;
    }

    public void PutPage(Mfn mfn)
    {
        ref FrameInfo f = ref _frames[mfn];
        if (f.RefCount == 0 || f.RefCount <= f.TypeCount)
        {
            throw new InvalidOperationException($"reference count underflow on {mfn} (ref {f.RefCount}, type {f.Type} x{f.TypeCount})");
        }

        f.RefCount--;
    }

    /// <summary>
    /// Takes a typed reference (Xen's get_page_type); the caller holds a general reference. On the 0→1 transition the
    /// type is set and, for page tables and descriptor pages, the frame is validated; a failed validation leaves the
    /// frame untyped. A frame in use as another type: -EINVAL.
    /// </summary>
    public int GetType(Mfn mfn, PageType type)
    {
        ref FrameInfo f = ref _frames[mfn];
        if (f.TypeCount != 0)
        {
            if (f.Type != type || _validating.Contains(mfn.Value) || f.TypeCount == uint.MaxValue)
            {
                return -XenErrno.EINVAL;
            }

            f.TypeCount++;
            return 0;
        }

        f.Type = type;
        f.TypeCount = 1;
        if (type == PageType.Writable)
        {
            return 0;
        }

        // A frame that becomes a page table or descriptor page may still have writable translations cached in some
        // vCPU's TLB from a mapping removed without a flush (Xen: the type-change flush in _get_page_type).
        _mmu.FlushAllVcpus();
        _validating.Add(mfn.Value);
        int rc;
        try
        {
            rc = Validate(mfn, type);
        }
        finally
        {
            _validating.Remove(mfn.Value);
        }

        if (rc != 0)
        {
            f.TypeCount = 0;
            f.Type = PageType.None;
        }

        return rc;
    }

    /// <summary>Drops a typed reference (Xen's put_page_type): on 1→0 a page table is devalidated and the type cleared.</summary>
    public void PutType(Mfn mfn)
    {
        ref FrameInfo f = ref _frames[mfn];
        if (f.TypeCount == 0)
        {
            throw new InvalidOperationException($"type count underflow on {mfn}");
        }

        if (f.TypeCount == 1 && IsPageTable(f.Type))
        {
            Devalidate(mfn, f.Type);
        }

        f.TypeCount--;
        if (f.TypeCount == 0)
        {
            f.Type = PageType.None;
            _linear.Remove(mfn.Value);
        }
    }

    /// <summary>Xen's get_page_and_type: a general and a typed reference on a frame the domain owns.</summary>
    public int GetPageAndType(Mfn mfn, PageType type)
    {
        int rc = GetPage(mfn);
        if (rc != 0)
        {
            return rc;
        }

        rc = GetType(mfn, type);
        if (rc != 0)
        {
            PutPage(mfn);
        }

        return rc;
    }

    public void PutPageAndType(Mfn mfn)
    {
        PutType(mfn);
        PutPage(mfn);
    }

    // ---- entries -------------------------------------------------------------------------------------------------

    /// <summary>Xen's get_page_from_l1e for a present entry: flags, ownership, and a Writable type for RW.</summary>
    public int GetFromL1e(ulong e)
    {
        if ((e & L1DisallowMask) != 0)
        {
            return -XenErrno.EINVAL; // "Bad L1 flags"
        }

        Mfn target = EntryMfn(e);
        if (!_frames.Contains(target))
        {
            // Not RAM: I/O memory, which a domain without I/O permissions may not map.
            return target.Value == InvalidEntryMfn ? -XenErrno.EINVAL : -XenErrno.EPERM;
        }

        ref FrameInfo f = ref _frames[target];
        if (f.Owner != _id || f.RefCount == uint.MaxValue)
        {
            return -XenErrno.EBUSY; // Xen: "could not pin" — another owner (domain, Xen) or a free frame
        }

        f.RefCount++;
        if ((e & PageTableFlags.Writable) != 0 && GetType(target, PageType.Writable) != 0)
        {
            PutPage(target);
            return -XenErrno.EBUSY; // "Could not get page type PGT_writable_page"
        }

        return 0;
    }

    public void PutFromL1e(ulong e)
    {
        if ((e & PageTableFlags.Present) == 0)
        {
            return;
        }

        Mfn target = EntryMfn(e);
        if (!Owns(target))
        {
            // Only a grant mapping of another domain's frame puts such an entry in a validated L1 (GetFromL1e refuses
            // them, and a referenced frame never changes owner); its references belong to the mapping's handle.
            return;
        }

        if ((e & PageTableFlags.Writable) != 0)
        {
            PutType(target);
        }

        PutPage(target);
    }

    /// <summary>Xen's get_page_from_l2e/l3e/l4e for a present entry of a level-<paramref name="level"/> table.</summary>
    public int GetFromUpper(ulong e, Mfn container, int level)
    {
        if ((e & UpperDisallowMask) != 0)
        {
            return -XenErrno.EINVAL; // "Bad L<n> flags" (PSE: no superpages for PV guests)
        }

        int rc = GetPageAndType(EntryMfn(e), TableType(level - 1));
        if (rc == -XenErrno.EINVAL && TryGetLinear(e, container, level))
        {
            rc = 0;
        }

        return rc;
    }

    public void PutFromUpper(ulong e, Mfn container, int level)
    {
        if ((e & PageTableFlags.Present) == 0)
        {
            return;
        }

        Mfn target = EntryMfn(e);
        if (target == container)
        {
            return; // a self-referencing linear entry holds no reference
        }

        if (_frames[target].Type == TableType(level))
        {
            // A linear entry: it held a same-level reference.
            AddLinear(target, +1);
            AddLinear(container, -1);
        }

        PutPageAndType(target);
    }

    /// <summary>
    /// Xen's get_l<i>n</i>_linear_pagetable: a read-only entry to a validated table of the same level, owned by the
    /// domain; free when it points at its own table. Returns false (the caller's -EINVAL) otherwise.
    /// </summary>
    private bool TryGetLinear(ulong e, Mfn container, int level)
    {
        if ((e & PageTableFlags.Writable) != 0)
        {
            return false; // "Attempt to create linear p.t. with write perms"
        }

        Mfn target = EntryMfn(e);
        if (target == container)
        {
            return true;
        }

        if (!IsValidated(target, TableType(level)) || !Owns(container))
        {
            return false;
        }

        // A table with linear entries may not itself be used linearly, and vice versa.
        if (Linear(container) < 0 || Linear(target) > 0)
        {
            return false;
        }

        ref FrameInfo f = ref _frames[target];
        if (f.TypeCount == uint.MaxValue || f.RefCount == uint.MaxValue)
        {
            return false;
        }

        f.RefCount++;
        f.TypeCount++;
        AddLinear(container, +1);
        AddLinear(target, -1);
        return true;
    }

    private int Linear(Mfn mfn) => _linear.TryGetValue(mfn.Value, out int n) ? n : 0;

    private void AddLinear(Mfn mfn, int delta)
    {
        int n = Linear(mfn) + delta;
        if (n == 0)
        {
            _linear.Remove(mfn.Value);
        }
        else
        {
            _linear[mfn.Value] = n;
        }
    }

    // ---- whole tables ----------------------------------------------------------------------------------------------

    private int Validate(Mfn mfn, PageType type) => type switch
    {
        PageType.L1 => PromoteL1(mfn),
        PageType.L2 => PromoteUpper(mfn, 2),
        PageType.L3 => PromoteUpper(mfn, 3),
        PageType.L4 => PromoteUpper(mfn, 4),
        PageType.SegmentDescriptors => DescriptorValidator.ValidatePage(_pool.Frame(mfn)) ? 0 : -XenErrno.EINVAL,
        _ => 0,
    };

    private int PromoteL1(Mfn mfn)
    {
        Span<ulong> e = _pool.FrameAsEntries(mfn);
        for (int i = 0; i < 512; i++)
        {
            if ((e[i] & PageTableFlags.Present) == 0)
            {
                continue;
            }

            int rc = GetFromL1e(e[i]);
            if (rc != 0)
            {
                for (int j = 0; j < i; j++)
                {
                    PutFromL1e(e[j]);
                }

                return rc;
            }

            ulong adjusted = AdjustL1(e[i]);
            if (adjusted != e[i])
            {
                e[i] = adjusted;
                _mmu.NoteHostWrite(mfn, i);
            }
        }

        return 0;
    }

    private int PromoteUpper(Mfn mfn, int level)
    {
        Span<ulong> e = _pool.FrameAsEntries(mfn);
        for (int i = 0; i < 512; i++)
        {
            if ((level == 4 && !IsGuestL4Slot(i)) || (e[i] & PageTableFlags.Present) == 0)
            {
                continue;
            }

            int rc = GetFromUpper(e[i], mfn, level);
            if (rc != 0)
            {
                for (int j = 0; j < i; j++)
                {
                    if (level != 4 || IsGuestL4Slot(j))
                    {
                        PutFromUpper(e[j], mfn, level);
                    }
                }

                return rc;
            }

            ulong adjusted = AdjustUpper(e[i], level);
            if (adjusted != e[i])
            {
                e[i] = adjusted;
                _mmu.NoteHostWrite(mfn, i);
            }
        }

        if (level == 4)
        {
            Span<ulong> before = stackalloc ulong[XenVirtualLayout.LastHypervisorL4Slot - XenVirtualLayout.FirstHypervisorL4Slot + 1];
            e[XenVirtualLayout.FirstHypervisorL4Slot..(XenVirtualLayout.LastHypervisorL4Slot + 1)].CopyTo(before);
            WriteHypervisorSlots(e);
            for (int i = 0; i < before.Length; i++)
            {
                if (before[i] != e[XenVirtualLayout.FirstHypervisorL4Slot + i])
                {
                    _mmu.NoteHostWrite(mfn, XenVirtualLayout.FirstHypervisorL4Slot + i);
                }
            }
        }

        return 0;
    }

    private void Devalidate(Mfn mfn, PageType type)
    {
        Span<ulong> e = _pool.FrameAsEntries(mfn);
        if (type == PageType.L1)
        {
            for (int i = 0; i < 512; i++)
            {
                PutFromL1e(e[i]);
            }

            return;
        }

        int level = (int)type - (int)PageType.L1 + 1;
        for (int i = 0; i < 512; i++)
        {
            if (level != 4 || IsGuestL4Slot(i))
            {
                PutFromUpper(e[i], mfn, level);
            }
        }
    }

    /// <summary>Xen's init_xen_l4_slots: whatever the guest wrote in 256–271 is replaced by the hypervisor's entries.</summary>
    public void WriteHypervisorSlots(Span<ulong> l4)
    {
        l4[XenVirtualLayout.FirstHypervisorL4Slot..(XenVirtualLayout.LastHypervisorL4Slot + 1)].Clear();
        _domain.StubPages.InstallHypervisorSlots(l4, _domain.Hypervisor.Shared);
    }

    // ---- single-entry updates (mmu_update, update_va_mapping, ptwr) ----------------------------------------------

    /// <summary>
    /// Xen's mod_l1_entry: validates <paramref name="value"/> for slot <paramref name="index"/> of the validated L1
    /// <paramref name="l1"/>, writes the adjusted entry and drops the old entry's references.
    /// </summary>
    public int ModL1Entry(Mfn l1, int index, ulong value, bool preserveAd)
    {
        Span<ulong> e = _pool.FrameAsEntries(l1);
        ulong old = e[index];
        if ((value & PageTableFlags.Present) != 0)
        {
            value = AdjustL1(value);
            int rc = GetFromL1e(value);
            if (rc != 0)
            {
                return rc;
            }
        }

        old = Write(e, index, old, value, preserveAd);
        _mmu.NoteHostWrite(l1, index);
        PutFromL1e(old);
        return 0;
    }

    /// <summary>Xen's mod_l2_entry/mod_l3_entry/mod_l4_entry for a validated table of <paramref name="level"/> 2–4.</summary>
    public int ModUpperEntry(Mfn table, int level, int index, ulong value, bool preserveAd)
    {
        if (level == 4 && !IsGuestL4Slot(index))
        {
            return -XenErrno.EINVAL; // "L4 update in Xen-private area"
        }

        Span<ulong> e = _pool.FrameAsEntries(table);
        ulong old = e[index];
        if ((value & PageTableFlags.Present) != 0)
        {
            value = AdjustUpper(value, level);
            int rc = GetFromUpper(value, table, level);
            if (rc != 0)
            {
                return rc;
            }
        }

        old = Write(e, index, old, value, preserveAd);
        _mmu.NoteHostWrite(table, index);
        PutFromUpper(old, table, level);
        return 0;
    }

    /// <summary>
    /// Stores <paramref name="value"/> in slot <paramref name="index"/>; with <paramref name="preserveAd"/>
    /// (MMU_PT_UPDATE_PRESERVE_AD) keeps the Accessed/Dirty bits the entry has at the moment of the store, as Xen's
    /// update_intpte does with cmpxchg: another vCPU's walk may set them between the read and the write. Returns the entry
    /// replaced (its A/D bits may have changed since <paramref name="old"/> was read; nothing else can, updates hold the lock).
    /// </summary>
    private static ulong Write(Span<ulong> e, int index, ulong old, ulong value, bool preserveAd)
    {
        if (!preserveAd)
        {
            e[index] = value;
            return old;
        }

        while (true)
        {
            ulong seen = Interlocked.CompareExchange(ref e[index], value | (old & (PageTableFlags.Accessed | PageTableFlags.Dirty)), old);
            if (seen == old)
            {
                return old;
            }

            old = seen;
        }
    }

    /// <summary>The linear-table bookkeeping, for tests: 0 when the frame neither holds nor is the target of linear entries.</summary>
    public int LinearCount(Mfn mfn) => Linear(mfn);
}
