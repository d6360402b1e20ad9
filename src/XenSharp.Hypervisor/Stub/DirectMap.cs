using XenSharp.Abi;
using XenSharp.Hypervisor.Memory;

namespace XenSharp.Hypervisor.Stub;

/// <summary>
/// A supervisor-only mapping of a domain's own frames at <see cref="Base"/> + machine address (L4 slot 262, like
/// Xen's direct map), so the stub can touch any of them. It exists for shadow-paging KVM (kvm_pvm): the host's writes
/// to guest page tables bypass KVM's write tracking, so the stub re-writes each changed entry from inside the VM,
/// which makes KVM drop its stale shadow entry. Built once, before the VM first runs; its tables live in their own
/// extent owned by Xen on the domain's behalf.
/// </summary>
internal sealed class DirectMap
{
    public const ulong Base = 0xffff830000000000;
    public const int L4Slot = 262;
    private const ulong Table = PageTableFlags.Present | PageTableFlags.Writable | PageTableFlags.Accessed;
    private const ulong Leaf = Table | PageTableFlags.Dirty | PageTableFlags.NoExecute;

    private DirectMap(Extent tables, Mfn l3)
    {
        Tables = tables;
        L3 = l3;
    }

    public Extent Tables { get; }

    public Mfn L3 { get; }

    public static DirectMap Create(MachinePool pool, IReadOnlyList<Extent> extents)
    {
        var l2Keys = new SortedSet<ulong>();
        var l1Keys = new SortedSet<ulong>();
        foreach (Extent e in extents)
        {
            for (ulong a = e.First.Address; a < e.First.Address + e.Bytes; a += 1UL << 21)
            {
                l2Keys.Add(a >> 30);
                l1Keys.Add(a >> 21);
            }

            ulong last = e.First.Address + e.Bytes - 1;
            l2Keys.Add(last >> 30);
            l1Keys.Add(last >> 21);
        }

        if (l2Keys.Count > 0 && l2Keys.Max >= 512)
        {
            throw new InvalidOperationException("the direct map covers machine addresses below 512 GiB only");
        }

        ulong count = 1 + (ulong)l2Keys.Count + (ulong)l1Keys.Count;
        Extent t = pool.Allocate(count, FrameOwner.Xen) ?? throw new OutOfPoolException(count);
        Mfn next = t.First;
        Mfn l3 = next;
        next = next.Add(1);
        var l2s = new Dictionary<ulong, Mfn>();
        foreach (ulong k in l2Keys)
        {
            l2s[k] = next;
            pool.FrameAsEntries(l3)[(int)k] = next.Address | Table;
            next = next.Add(1);
        }

        var l1s = new Dictionary<ulong, Mfn>();
        foreach (ulong k in l1Keys)
        {
            l1s[k] = next;
            pool.FrameAsEntries(l2s[k >> 9])[(int)(k & 511)] = next.Address | Table;
            next = next.Add(1);
        }

        foreach (Extent e in extents)
        {
            for (ulong i = 0; i < e.Count; i++)
            {
                ulong a = e.First.Add(i).Address;
                pool.FrameAsEntries(l1s[a >> 21])[(int)((a >> 12) & 511)] = a | Leaf;
            }
        }

        return new DirectMap(t, l3);
    }
}
