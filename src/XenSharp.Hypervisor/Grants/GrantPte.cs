using XenSharp.Abi;
using XenSharp.Hypervisor.Domains;
using XenSharp.Hypervisor.Memory;
using XenSharp.Hypervisor.Pv.Mmu;
using static XenSharp.Hypervisor.Grants.GrantTableAbi;

namespace XenSharp.Hypervisor.Grants;

/// <summary>
/// The page-table side of a PV host mapping (xen/arch/x86/pv/grant_table.c: create_grant_pv_mapping,
/// replace_grant_pv_mapping, steal_linear_address). The L1 entry is named either by machine address
/// (GNTMAP_contains_pte) or by a linear address looked up in the caller's current page tables; either way it must
/// lie in a validated L1 of the caller. Every failure is GNTST_general_error.
/// <para>
/// References: a grant PTE takes none when written. The mapping's references on the granted frame were taken by the
/// map operation and are dropped by the unmap (GrantMapping); for a frame of the caller's own they are exactly what an
/// ordinary PTE with the same flags holds, so the entry may also be taken down "implicitly" (mmu_update, a pointer
/// write, an L1 losing its type), which drops them through <see cref="PageTableValidator.PutFromL1e"/> — after that
/// the entry no longer matches and an unmap by handle fails, so nothing is dropped twice (Xen's release-build
/// behaviour; XSA-224/XSA-234). An entry to another domain's frame holds nothing for the validator to drop (it skips
/// frames the domain does not own): its mapping keeps the references until unmapped by handle. The entry the grant PTE
/// displaces loses its references as any overwritten entry.
/// </para>
/// Callers hold the granting table's lock; this class takes the caller's MMU lock. Every entry written is recorded
/// with <see cref="DomainMmu.NoteHostWrite(Mfn, int)"/> for the shadow-paging resync.
/// </summary>
internal static class GrantPte
{
    private const ulong AvailableBits = 0xe00; // _PAGE_AVAIL: PTE bits 9–11

    /// <summary>grant_to_pte_flags plus adjust_guest_l1e: the entry a host mapping of <paramref name="frame"/> gets.</summary>
    public static ulong Entry(Mfn frame, uint flags)
    {
        ulong e = frame.Address | PageTableFlags.Present | PageTableFlags.Accessed | PageTableFlags.Dirty | PageTableFlags.NoExecute;
        if ((flags & GntmapApplicationMap) != 0)
        {
            e |= PageTableFlags.User;
        }

        if ((flags & GntmapReadonly) == 0)
        {
            e |= PageTableFlags.Writable;
        }

        e |= ((ulong)(flags >> GntmapGuestAvailShift) << 9) & AvailableBits;
        return PageTableValidator.AdjustL1(e);
    }

    /// <summary>create_grant_pv_mapping: writes the grant entry for <paramref name="frame"/> at <paramref name="addr"/>.</summary>
    public static short Create(Vcpu vcpu, ulong addr, Mfn frame, uint flags, out string? reason)
    {
        DomainMmu mmu = vcpu.Domain.Mmu;
        lock (mmu.Lock)
        {
            if (!FindSlot(vcpu, addr, (flags & GntmapContainsPte) != 0, out Mfn l1, out int index, out reason))
            {
                return GeneralError;
            }

            Span<ulong> e = vcpu.Domain.Pool.FrameAsEntries(l1);
            ulong old = e[index];
            e[index] = Entry(frame, flags);
            mmu.NoteHostWrite(l1, index);
            mmu.Validator.PutFromL1e(old);
            return Okay;
        }
    }

    /// <summary>
    /// replace_grant_pv_mapping: the entry at <paramref name="addr"/> must still map <paramref name="frame"/> with the
    /// present and writable bits the mapping was made with; it is cleared, or with <paramref name="newAddr"/> (unmap_and_replace,
    /// linear addresses only) replaced by the entry taken from <paramref name="newAddr"/>, which is cleared. The entry
    /// cleared keeps no references: the caller drops the mapping's.
    /// </summary>
    public static short Replace(Vcpu vcpu, ulong addr, Mfn frame, ulong newAddr, uint flags, out string? reason)
    {
        DomainMmu mmu = vcpu.Domain.Mmu;
        bool containsPte = (flags & GntmapContainsPte) != 0;
        lock (mmu.Lock)
        {
            if (containsPte && newAddr != 0)
            {
                reason = "unmap_and_replace of a mapping made by PTE address";
                return GeneralError;
            }

            ulong replacement = 0;
            if (newAddr != 0 && !Steal(vcpu, newAddr, out replacement, out reason))
            {
                return GeneralError;
            }

            short rc = ReplaceLocked(vcpu, addr, frame, replacement, flags, out reason);
            if (rc != Okay)
            {
                // The entry taken from newAddr is gone from the page tables: its references go with it.
                mmu.Validator.PutFromL1e(replacement);
            }

            return rc;
        }
    }

    private static short ReplaceLocked(Vcpu vcpu, ulong addr, Mfn frame, ulong replacement, uint flags, out string? reason)
    {
        DomainMmu mmu = vcpu.Domain.Mmu;
        if (!FindSlot(vcpu, addr, (flags & GntmapContainsPte) != 0, out Mfn l1, out int index, out reason))
        {
            return GeneralError;
        }

        Span<ulong> e = vcpu.Domain.Pool.FrameAsEntries(l1);
        ulong old = e[index];
        ulong expected = Entry(frame, flags);
        const ulong mustMatch = PageTableFlags.Present | PageTableFlags.Writable;
        if (PageTableValidator.EntryMfn(old) != frame || ((old ^ expected) & mustMatch) != 0)
        {
            reason = $"PTE {old:x} at {addr:x} does not match the grant ({expected:x})";
            return GeneralError;
        }

        e[index] = replacement;
        mmu.NoteHostWrite(l1, index);
        return Okay;
    }

    /// <summary>steal_linear_address: clears the entry that maps <paramref name="linear"/> and hands it over, references and all.</summary>
    private static bool Steal(Vcpu vcpu, ulong linear, out ulong stolen, out string? reason)
    {
        stolen = 0;
        if (!FindSlot(vcpu, linear, containsPte: false, out Mfn l1, out int index, out reason))
        {
            return false;
        }

        Span<ulong> e = vcpu.Domain.Pool.FrameAsEntries(l1);
        stolen = e[index];
        e[index] = 0;
        vcpu.Domain.Mmu.NoteHostWrite(l1, index);
        return true;
    }

    /// <summary>
    /// The L1 slot a request names: by machine address (8-byte aligned — XSA-227 — in any frame) or by linear address
    /// (canonical and outside the hypervisor's range, through present non-superpage entries of the current tables).
    /// Either way the frame must be one of the caller's validated L1 tables. Caller holds the MMU lock.
    /// </summary>
    private static bool FindSlot(Vcpu vcpu, ulong addr, bool containsPte, out Mfn l1, out int index, out string? reason)
    {
        DomainMmu mmu = vcpu.Domain.Mmu;
        l1 = default;
        index = 0;
        if (containsPte)
        {
            if ((addr & 7) != 0)
            {
                reason = $"misaligned PTE address {addr:x}";
                return false;
            }

            l1 = Mfn.FromAddress(addr);
            index = (int)((addr & 0xfff) >> 3);
        }
        else if (!GrantMapping.AddressOk(addr) || !mmu.FindL1(vcpu.CurrentL4, addr, out l1, out index))
        {
            reason = $"could not find L1 PTE for linear address {addr:x}";
            return false;
        }

        if (!mmu.Validator.IsValidated(l1, PageType.L1))
        {
            reason = $"grant PTE at {l1} is not in an L1 page table of d{vcpu.Domain.Id}";
            return false;
        }

        reason = null;
        return true;
    }
}
