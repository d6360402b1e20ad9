using System.Buffers.Binary;
using XenSharp.Abi;
using XenSharp.Hypervisor.Domains;
using XenSharp.Hypervisor.Memory;
using XenSharp.Hypervisor.Stub;

namespace XenSharp.Hypervisor.Pv.Mmu;

/// <summary>
/// One domain's PV MMU: the validator (type and reference counts of its frames), per-vCPU descriptor-table state,
/// the operations behind mmu_update/mmuext_op/update_va_mapping/set_gdt/update_descriptor, and the balloon reserve
/// behind decrease_reservation/populate_physmap. Every operation runs under <see cref="Lock"/>, so the vCPUs of one
/// domain see each MMU operation as atomic. Errors are negative Xen errno values.
/// </summary>
internal sealed class DomainMmu
{
    private readonly Domain _domain;
    private readonly VcpuMmuState[] _vcpus = new VcpuMmuState[StubLayout.MaxVcpus];

    /// <summary>Frames the guest gave back (decrease_reservation): owned by Xen on the domain's behalf, zeroed, reused by populate.</summary>
    private readonly SortedSet<ulong> _reserve = new();

    public DomainMmu(Domain domain)
    {
        _domain = domain;
        Validator = new PageTableValidator(domain, this);
    }

    public object Lock { get; } = new();

    /// <summary>
    /// Frames whose contents the host changed while the guest may have them cached as page tables (see
    /// <see cref="NoteHostWrite"/>); drained by the machine layer before the vCPU re-enters the guest.
    /// </summary>
    private readonly HashSet<ulong> _hostWrittenFrames = new();

    /// <summary>
    /// Records that the host wrote a frame the CPU may walk as a page table (a guest table, or the stub's window L1).
    /// On a shadow-paging KVM (kvm_pvm) host-side writes bypass KVM's write protection of shadowed guest page tables,
    /// so the shadow keeps the old entries; a guest-mode rewrite of the frame (any vCPU, before the guest runs on it
    /// again) makes KVM resynchronise. See docs/pv-mmu.md, "Shadow paging".
    /// </summary>
    public void NoteHostWrite(Mfn frame)
    {
        lock (_hostWrittenFrames)
        {
            _hostWrittenFrames.Add(frame.Address | WholeFrame);
        }
    }

    /// <summary>Records one rewritten entry of a frame the CPU may walk as a page table: its machine address.</summary>
    public void NoteHostWrite(Mfn frame, int index)
    {
        lock (_hostWrittenFrames)
        {
            _hostWrittenFrames.Add(frame.Address + ((ulong)index * 8));
        }
    }

    /// <summary>Marks a recorded key as a whole frame (all 512 entries) rather than one entry's machine address.</summary>
    public const ulong WholeFrame = 1;

    /// <summary>
    /// Takes up to <paramref name="into"/>.Length recorded writes — an entry's machine address, or a frame's address
    /// with <see cref="WholeFrame"/> set — and returns how many. The rest stay recorded.
    /// </summary>
    public int DrainHostWrites(Span<ulong> into)
    {
        lock (_hostWrittenFrames)
        {
            int n = 0;
            foreach (ulong m in _hostWrittenFrames)
            {
                if (n == into.Length)
                {
                    break;
                }

                into[n++] = m;
            }

            for (int i = 0; i < n; i++)
            {
                _hostWrittenFrames.Remove(into[i]);
            }

            return n;
        }
    }

    public int PendingHostWrites
    {
        get
        {
            lock (_hostWrittenFrames)
            {
                return _hostWrittenFrames.Count;
            }
        }
    }

    public PageTableValidator Validator { get; }

    private FrameTable Frames => _domain.Pool.Frames;

    public VcpuMmuState VcpuState(int vcpu) => _vcpus[vcpu] ??= new VcpuMmuState();

    /// <summary>Frames the domain currently holds as guest memory (its reservation): allocated pages less ballooned ones.</summary>
    public ulong CurrentPages
    {
        get
        {
            lock (Lock)
            {
                return _domain.NrPages - (ulong)_reserve.Count;
            }
        }
    }

    public int ReservedFrames
    {
        get
        {
            lock (Lock)
            {
                return _reserve.Count;
            }
        }
    }

    /// <summary>
    /// Flushes the TLB of every vCPU of the domain: the calling vCPU on its way back from this hypercall; each other
    /// one inside the guest is kicked out before this returns, as Xen's flush_tlb_mask waits for its IPIs
    /// (<see cref="Vcpu.RequestTlbFlushAndWait"/>; docs/pv-mmu.md, "What is flushed when").
    /// </summary>
    public void FlushAllVcpus()
    {
        foreach (Vcpu v in _domain.Vcpus)
        {
            v.RequestTlbFlushAndWait();
        }
    }

    /// <summary>Flushes the vCPUs whose bits are set in a guest vCPU bitmap (UVMF_MULTI, MMUEXT_*_MULTI).</summary>
    public bool FlushMask(Vcpu caller, ulong bitmapVa)
    {
        int words = (_domain.Vcpus.Length + 63) / 64;
        Span<byte> bitmap = stackalloc byte[8 * words];
        if (!caller.CopyFromGuest(bitmapVa, bitmap))
        {
            return false;
        }

        foreach (Vcpu v in _domain.Vcpus)
        {
            if ((bitmap[v.Id / 8] & (1 << (v.Id % 8))) != 0)
            {
                v.RequestTlbFlushAndWait();
            }
        }

        return true;
    }

    /// <summary>Xen's __addr_ok: a guest virtual address below the hypervisor hole's start (canonical low half) or above its end.</summary>
    public static bool GuestAddressOk(ulong va) => XenVirtualLayout.IsGuestAddress(va);

    // ---- pinning and base pointers ----------------------------------------------------------------------------------

    /// <summary>MMUEXT_PIN_L<i>n</i>_TABLE: a typed reference held until unpinned (validating the table on first use).</summary>
    public int Pin(Mfn mfn, PageType type)
    {
        lock (Lock)
        {
            int rc = Validator.GetPageAndType(mfn, type);
            if (rc != 0)
            {
                return rc;
            }

            ref FrameInfo f = ref Frames[mfn];
            if (f.Pinned)
            {
                Validator.PutPageAndType(mfn);
                return -XenErrno.EINVAL; // already pinned
            }

            f.Pinned = true;
            return 0;
        }
    }

    /// <summary>MMUEXT_UNPIN_TABLE: drops the pin's reference. A table still referenced elsewhere (CR3, a parent) stays validated.</summary>
    public int Unpin(Mfn mfn)
    {
        lock (Lock)
        {
            if (!Validator.Owns(mfn) || !Frames[mfn].Pinned)
            {
                return -XenErrno.EINVAL;
            }

            Frames[mfn].Pinned = false;
            Validator.PutPageAndType(mfn);
            return 0;
        }
    }

    /// <summary>MMUEXT_NEW_BASEPTR (Xen's new_guest_cr3): the vCPU's kernel L4, loaded now if it runs in kernel mode.</summary>
    public int NewBasePtr(Vcpu v, Mfn mfn)
    {
        lock (Lock)
        {
            Mfn old = v.KernelL4;
            if (old == mfn)
            {
                if (v.InKernelMode)
                {
                    v.LoadCr3(mfn);
                }

                return 0;
            }

            int rc = Validator.GetPageAndType(mfn, PageType.L4);
            if (rc != 0)
            {
                return rc;
            }

            if ((_domain.VmAssist & (1UL << Abi.VmAssist.TypeM2pStrict)) == 0)
            {
                SetReadOnlyM2p(mfn, fill: true);
            }

            v.KernelL4 = mfn;
            if (v.InKernelMode)
            {
                v.LoadCr3(mfn);
            }

            if (old.Value != 0)
            {
                Validator.PutPageAndType(old);
            }

            return 0;
        }
    }

    /// <summary>Drops a vCPU's base tables (kernel and user L4) and their typed references: a failed VCPUOP_initialise.</summary>
    public void ReleaseBaseTables(Vcpu v)
    {
        lock (Lock)
        {
            if (v.UserL4 is { } user)
            {
                v.UserL4 = null;
                Validator.PutPageAndType(user);
            }

            Mfn kernel = v.KernelL4;
            if (kernel.Value != 0)
            {
                v.KernelL4 = default;
                Validator.PutPageAndType(kernel);
            }
        }
    }

    /// <summary>MMUEXT_NEW_USER_BASEPTR: the L4 used in guest user mode; 0 means none (user mode then runs on the kernel's).</summary>
    public int NewUserBasePtr(Vcpu v, ulong mfnValue)
    {
        lock (Lock)
        {
            Mfn? old = v.UserL4;
            if ((old?.Value ?? 0) == mfnValue)
            {
                return 0;
            }

            Mfn mfn = new(mfnValue);
            if (mfnValue != 0)
            {
                int rc = Validator.GetPageAndType(mfn, PageType.L4);
                if (rc != 0)
                {
                    return rc;
                }

                if ((_domain.VmAssist & (1UL << Abi.VmAssist.TypeM2pStrict)) != 0)
                {
                    SetReadOnlyM2p(mfn, fill: false); // Xen's zap_ro_mpt
                }
            }

            v.UserL4 = mfnValue == 0 ? null : mfn;
            if (old is { } o)
            {
                Validator.PutPageAndType(o);
            }

            return 0;
        }
    }

    /// <summary>
    /// Xen's fill_ro_mpt (<paramref name="fill"/>: a kernel base L4 gets the read-only M2P back if its slot is empty)
    /// and zap_ro_mpt (a user base L4 under m2p_strict loses it). Covers every hypervisor slot that maps the M2P.
    /// </summary>
    private void SetReadOnlyM2p(Mfn l4, bool fill)
    {
        Span<ulong> slots = stackalloc ulong[512];
        _domain.StubPages.InstallHypervisorSlots(slots, _domain.Hypervisor.Shared);
        ulong m2p = slots[XenVirtualLayout.FirstHypervisorL4Slot];
        Span<ulong> e = _domain.Pool.FrameAsEntries(l4);
        for (int i = XenVirtualLayout.FirstHypervisorL4Slot; i <= XenVirtualLayout.LastHypervisorL4Slot; i++)
        {
            if (slots[i] == m2p && (!fill || e[i] == 0))
            {
                e[i] = fill ? m2p : 0;
                NoteHostWrite(l4, i);
            }
        }
    }

    // ---- entry updates -------------------------------------------------------------------------------------------------

    /// <summary>
    /// MMU_NORMAL_PT_UPDATE and friends: writes <paramref name="value"/> to the 8-byte slot at machine address
    /// <paramref name="ptr"/> according to the type of the frame holding it. <paramref name="upperLevel"/> is set when an
    /// L2–L4 entry changed (the caller flushes every vCPU).
    /// </summary>
    public int UpdateEntry(ulong ptr, ulong value, bool preserveAd, out bool upperLevel)
    {
        upperLevel = false;
        Mfn table = Mfn.FromAddress(ptr);
        int index = (int)((ptr & 0xfff) >> 3);
        lock (Lock)
        {
            if (!Validator.Owns(table))
            {
                return -XenErrno.EINVAL; // "Could not get page for normal update"
            }

            FrameInfo f = Frames[table];
            if (f.TypeCount != 0)
            {
                switch (f.Type)
                {
                    case PageType.L1:
                        return Validator.ModL1Entry(table, index, value, preserveAd);
                    case PageType.L2:
                    case PageType.L3:
                    case PageType.L4:
                    {
                        int rc = Validator.ModUpperEntry(table, f.Type - PageType.L1 + 1, index, value, preserveAd);
                        upperLevel = rc == 0;
                        return rc;
                    }

                    case PageType.Writable:
                        break;
                    default:
                        return -XenErrno.EINVAL; // a descriptor page: only update_descriptor writes it
                }
            }

            // An ordinary page: a plain write (Xen takes a Writable type around it, which cannot fail here).
            _domain.Pool.FrameAsEntries(table)[index] = value;
            NoteHostWrite(table, index);
            return 0;
        }
    }

    /// <summary>MMU_MACHPHYS_UPDATE: M2P[mfn] = pfn for a frame the domain owns.</summary>
    public int MachphysUpdate(Mfn mfn, ulong pfn)
    {
        lock (Lock)
        {
            if (!Validator.Owns(mfn))
            {
                return -XenErrno.EINVAL;
            }

            _domain.Pool.SetM2p(mfn, pfn);
            return 0;
        }
    }

    /// <summary>Finds the L1 slot that maps <paramref name="va"/> through the given top-level table (present entries, no superpages).</summary>
    public bool FindL1(Mfn l4, ulong va, out Mfn l1, out int index)
    {
        l1 = default;
        index = (int)((va >> 12) & 511);
        Mfn table = l4;
        for (int level = 4; level >= 2; level--)
        {
            if (!Validator.Owns(table))
            {
                return false;
            }

            ulong e = _domain.Pool.FrameAsEntries(table)[(int)((va >> (12 + (9 * (level - 1)))) & 511)];
            if ((e & PageTableFlags.Present) == 0 || (level < 4 && (e & PageTableFlags.PageSize) != 0))
            {
                return false;
            }

            table = PageTableValidator.EntryMfn(e);
        }

        l1 = table;
        return true;
    }

    /// <summary>update_va_mapping: the L1 entry for <paramref name="va"/> in the vCPU's current kernel tables, then the flush asked for.</summary>
    public int UpdateVaMapping(Vcpu v, ulong va, ulong value, ulong flags)
    {
        lock (Lock)
        {
            if (!GuestAddressOk(va) || !FindL1(v.KernelL4, va, out Mfn l1, out int index) || !Validator.IsValidated(l1, PageType.L1))
            {
                return -XenErrno.EINVAL;
            }

            int rc = Validator.ModL1Entry(l1, index, value, preserveAd: false);
            if (rc != 0)
            {
                return rc; // nothing changed: no flush
            }
        }

        ulong kind = flags & MmuAbi.UvmfFlushTypeMask;
        if (kind is MmuAbi.UvmfTlbFlush or MmuAbi.UvmfInvlpg)
        {
            ulong which = flags & ~MmuAbi.UvmfFlushTypeMask;
            if (which == MmuAbi.UvmfLocal)
            {
                v.RequestTlbFlush();
            }
            else if (which == MmuAbi.UvmfAll)
            {
                FlushAllVcpus();
            }
            else if (!FlushMask(v, which))
            {
                return -XenErrno.EFAULT;
            }
        }

        return 0;
    }

    // ---- descriptor tables -----------------------------------------------------------------------------------------

    /// <summary>
    /// set_gdt: each frame becomes a SegmentDescriptors page (owned, no writable mappings, every descriptor valid), then
    /// replaces the vCPU's GDT pages 0–13 in its stub window; the old frames' references are dropped.
    /// </summary>
    public int SetGdt(Vcpu v, ReadOnlySpan<ulong> frames, uint entries)
    {
        if (entries > XenSelectors.FirstReservedGdtEntry)
        {
            return -XenErrno.EINVAL;
        }

        int count = (int)((entries + 511) / 512);
        lock (Lock)
        {
            for (int i = 0; i < count; i++)
            {
                if (Validator.GetPageAndType(new Mfn(frames[i]), PageType.SegmentDescriptors) != 0)
                {
                    while (i-- > 0)
                    {
                        Validator.PutPageAndType(new Mfn(frames[i]));
                    }

                    return -XenErrno.EINVAL;
                }
            }

            DestroyGdt(v);
            VcpuMmuState s = VcpuState(v.Id);
            for (int i = 0; i < count; i++)
            {
                s.GdtFrames[i] = new Mfn(frames[i]);
                _domain.StubPages.MapGuestGdtPage(v.Id, i, new Mfn(frames[i]), _domain.Hypervisor.Shared);
                NoteHostWrite(_domain.StubPages.WindowsL1, DomainStubPages.GdtL1Index(v.Id, i));
            }


            s.GdtEntries = entries;
        }

        v.RequestTlbFlush();
        return 0;
    }

    /// <summary>Xen's pv_destroy_gdt: the guest's GDT pages are unmapped (zero page) and their references dropped.</summary>
    public void DestroyGdt(Vcpu v)
    {
        lock (Lock)
        {
            VcpuMmuState s = VcpuState(v.Id);
            for (int i = 0; i < s.GdtFrames.Length; i++)
            {
                if (s.GdtFrames[i] is { } mfn)
                {
                    _domain.StubPages.MapGuestGdtPage(v.Id, i, null, _domain.Hypervisor.Shared);
                    Validator.PutPageAndType(mfn);
                    s.GdtFrames[i] = null;
                    NoteHostWrite(_domain.StubPages.WindowsL1, DomainStubPages.GdtL1Index(v.Id, i));
                }
            }

            s.GdtEntries = 0;
        }
    }

    /// <summary>update_descriptor: one checked descriptor written at an 8-byte aligned machine address of a descriptor or ordinary page.</summary>
    public int UpdateDescriptor(ulong maddr, ulong descriptor)
    {
        if ((maddr & 7) != 0 || !DescriptorValidator.Check(ref descriptor))
        {
            return -XenErrno.EINVAL;
        }

        Mfn mfn = Mfn.FromAddress(maddr);
        lock (Lock)
        {
            if (Validator.GetPage(mfn) != 0)
            {
                return -XenErrno.EINVAL;
            }

            FrameInfo f = Frames[mfn];
            PageType type = f.TypeCount != 0 && f.Type == PageType.SegmentDescriptors ? PageType.SegmentDescriptors : PageType.Writable;
            if (Validator.GetType(mfn, type) != 0)
            {
                Validator.PutPage(mfn);
                return -XenErrno.EINVAL;
            }

            BinaryPrimitives.WriteUInt64LittleEndian(_domain.Pool.Memory.GetSpan(maddr, 8), descriptor);
            Validator.PutPageAndType(mfn);
            return 0;
        }
    }

    /// <summary>MMUEXT_SET_LDT: validated and recorded.</summary>
    public int SetLdt(Vcpu v, ulong linear, uint entries)
    {
        ulong ptr = entries != 0 ? linear : 0;
        if (entries > MmuAbi.MaxLdtEntries || (entries != 0 && ((ptr & 0xfff) != 0 || !GuestAddressOk(ptr))))
        {
            return -XenErrno.EINVAL;
        }

        VcpuMmuState s = VcpuState(v.Id);
        if (s.LdtBase != ptr || s.LdtEntries != entries)
        {
            s.LdtBase = ptr;
            s.LdtEntries = entries;
            v.RequestTlbFlush();
        }

        return 0;
    }

    // ---- page contents ---------------------------------------------------------------------------------------------

    /// <summary>MMUEXT_CLEAR_PAGE: the frame must be the domain's and able to take a Writable type.</summary>
    public int ClearPage(Mfn mfn)
    {
        lock (Lock)
        {
            if (Validator.GetPageAndType(mfn, PageType.Writable) != 0)
            {
                return -XenErrno.EINVAL;
            }

            _domain.Pool.Frame(mfn).Clear();
            NoteHostWrite(mfn);
            Validator.PutPageAndType(mfn);
            return 0;
        }
    }

    /// <summary>MMUEXT_COPY_PAGE: source any frame of the domain, destination Writable-typeable.</summary>
    public int CopyPage(Mfn destination, Mfn source)
    {
        lock (Lock)
        {
            if (Validator.GetPage(source) != 0)
            {
                return -XenErrno.EINVAL;
            }

            if (Validator.GetPageAndType(destination, PageType.Writable) != 0)
            {
                Validator.PutPage(source);
                return -XenErrno.EINVAL;
            }

            _domain.Pool.Frame(source).CopyTo(_domain.Pool.Frame(destination));
            NoteHostWrite(destination);
            Validator.PutPageAndType(destination);
            Validator.PutPage(source);
            return 0;
        }
    }

    // ---- pages the hypervisor keeps using --------------------------------------------------------------------------

    /// <summary>
    /// Xen's map_guest_page, for a page the hypervisor writes for as long as it holds it (the FIFO event ABI's control
    /// blocks and event-array pages). <paramref name="gfn"/> is a machine frame, as for every PV guest; it must be a
    /// frame the domain owns that can take the Writable type, else -EINVAL. The general and Writable references taken
    /// here keep the guest from giving the frame back (decrease_reservation answers -EBUSY) or turning it into a page
    /// table or descriptor page until <see cref="ReleaseHeldPage"/>.
    /// </summary>
    public int HoldWritablePage(ulong gfn, out Mfn mfn)
    {
        mfn = new Mfn(gfn);
        lock (Lock)
        {
            return Validator.GetPageAndType(mfn, PageType.Writable) == 0 ? 0 : -XenErrno.EINVAL;
        }
    }

    /// <summary>Drops the references <see cref="HoldWritablePage"/> took.</summary>
    public void ReleaseHeldPage(Mfn mfn)
    {
        lock (Lock)
        {
            Validator.PutPageAndType(mfn);
        }
    }

    // ---- reservation (balloon) ------------------------------------------------------------------------------------

    /// <summary>
    /// decrease_reservation of one frame (Xen's guest_remove_page). Refused (-EBUSY) while the frame is mapped, typed
    /// or pinned — Xen would defer the free until the last reference goes; here the guest must unmap first. The frame
    /// leaves the guest's P2M and M2P, is zeroed (host memory released) and kept in reserve for this domain.
    /// </summary>
    public int RemovePage(Mfn mfn)
    {
        lock (Lock)
        {
            if (!Frames.Contains(mfn))
            {
                return -XenErrno.EINVAL;
            }

            if (!Validator.Owns(mfn) || mfn == _domain.SharedInfo)
            {
                return -XenErrno.ENXIO;
            }

            FrameInfo f = Frames[mfn];
            if (f.RefCount != 0 || f.TypeCount != 0 || f.Pinned)
            {
                return -XenErrno.EBUSY;
            }

            MachinePool pool = _domain.Pool;
            ulong pfn = pool.GetM2p(mfn);
            if (pfn < (ulong)_domain.P2m.Length && _domain.P2m[pfn] == mfn)
            {
                _domain.P2m[pfn] = new Mfn(MachinePool.InvalidM2pEntry);
            }

            lock (pool.Lock)
            {
                pool.SetM2p(mfn, MachinePool.InvalidM2pEntry);
                pool.Memory.Discard(mfn.Address, Mfn.PageSize);
                Frames[mfn] = new FrameInfo { Owner = FrameOwner.Xen };
            }

            _reserve.Add(mfn.Value);
            NoteHostWrite(mfn);
        }

        // Stale translations of the frame must not outlive its removal.
        FlushAllVcpus();
        return 0;
    }

    /// <summary>
    /// populate_physmap/increase_reservation of one extent of 2^<paramref name="order"/> frames from the reserve
    /// (contiguous and aligned); the frames become the domain's again, zeroed. With a pfn the M2P (and the
    /// hypervisor's P2M copy) is set; without one the M2P entries stay invalid until the guest sets them.
    /// </summary>
    public int AddExtent(int order, ulong? firstPfn, out Mfn first)
    {
        first = default;
        ulong count = 1UL << order;
        lock (Lock)
        {
            ulong? start = null;
            foreach (ulong m in _reserve)
            {
                if ((m & (count - 1)) != 0)
                {
                    continue;
                }

                bool all = true;
                for (ulong i = 1; i < count && all; i++)
                {
                    all = _reserve.Contains(m + i);
                }

                if (all)
                {
                    start = m;
                    break;
                }
            }

            if (start is not { } s)
            {
                return -XenErrno.ENOMEM;
            }

            MachinePool pool = _domain.Pool;
            lock (pool.Lock)
            {
                for (ulong i = 0; i < count; i++)
                {
                    Mfn mfn = new(s + i);
                    _reserve.Remove(mfn.Value);
                    Frames[mfn] = new FrameInfo { Owner = _domain.Id };
                    ulong pfn = firstPfn is { } p ? p + i : MachinePool.InvalidM2pEntry;
                    pool.SetM2p(mfn, pfn);
                    if (pfn < (ulong)_domain.P2m.Length)
                    {
                        _domain.P2m[pfn] = mfn;
                    }
                }
            }

            first = new Mfn(s);
            return 0;
        }
    }
}
