using XenSharp.Abi;
using XenSharp.Hypervisor.Memory;

namespace XenSharp.Hypervisor.Events;

/// <summary>
/// The guest pages the FIFO ABI writes: per-vCPU control blocks (EVTCHNOP_init_control) and event-array pages
/// (EVTCHNOP_expand_array). Each is held through <see cref="Pv.Mmu.DomainMmu.HoldWritablePage"/> from the moment it is
/// registered until <see cref="Release"/> (EVTCHNOP_reset or domain destruction), so it stays this domain's ordinary
/// writable RAM all that time. Lock order: the table lock, then the MMU lock inside the hold/release calls.
/// </summary>
internal sealed partial class FifoEvents
{
    /// <summary>map_control_block: a vCPU's control block at <paramref name="offset"/> (already checked) of frame <paramref name="gfn"/>. 0 or -EINVAL.</summary>
    public int MapControlBlock(int vcpu, ulong gfn, int offset)
    {
        FifoVcpuQueues q = _vcpus[vcpu];
        if (q.ControlBlock is not null)
        {
            return -XenErrno.EINVAL;
        }

        int rc = _domain.Mmu.HoldWritablePage(gfn, out Mfn mfn);
        if (rc != 0)
        {
            return rc;
        }

        q.Offset = offset;
        q.ControlBlock = mfn;
        return 0;
    }

    /// <summary>add_page_to_event_array: 1024 more ports get words. 0, -ENOSPC at the ABI's limit, or -EINVAL for a bad frame.</summary>
    public int AddArrayPage(ulong gfn)
    {
        if (_pageCount >= EventFifoLayout.MaxArrayPages)
        {
            return -XenErrno.ENOSPC;
        }

        int rc = _domain.Mmu.HoldWritablePage(gfn, out Mfn mfn);
        if (rc != 0)
        {
            return rc;
        }

        _pages[_pageCount++] = mfn;
        return 0;
    }

    /// <summary>evtchn_fifo_destroy: lets go of every page. The ABI object is not used again afterwards.</summary>
    public void Release()
    {
        foreach (FifoVcpuQueues q in _vcpus)
        {
            if (q.ControlBlock is { } mfn)
            {
                q.ControlBlock = null;
                _domain.Mmu.ReleaseHeldPage(mfn);
            }
        }

        while (_pageCount > 0)
        {
            _domain.Mmu.ReleaseHeldPage(_pages[--_pageCount]);
        }
    }
}
