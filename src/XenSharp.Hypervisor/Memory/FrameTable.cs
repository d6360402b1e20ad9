namespace XenSharp.Hypervisor.Memory;

/// <summary>
/// Per-frame ownership, page type and counts for the whole pool.
/// Invariants: a free frame has owner Free, type None and zero counts; a frame's type changes only while
/// TypeCount is zero; TypeCount never exceeds RefCount. Callers hold the pool lock for multi-frame updates.
/// </summary>
internal sealed class FrameTable
{
    private readonly FrameInfo[] _frames;

    public FrameTable(ulong frameCount)
    {
        _frames = new FrameInfo[frameCount];
        for (ulong i = 0; i < frameCount; i++)
        {
            _frames[i].Owner = FrameOwner.Free;
        }
    }

    public ulong FrameCount => (ulong)_frames.LongLength;

    public bool Contains(Mfn mfn) => mfn.Value < (ulong)_frames.LongLength;

    public ref FrameInfo this[Mfn mfn] => ref _frames[checked((long)mfn.Value)];

    public void Assign(Mfn first, ulong count, ushort owner)
    {
        for (ulong i = 0; i < count; i++)
        {
            ref FrameInfo f = ref this[first.Add(i)];
            if (!f.IsFree)
            {
                throw new InvalidOperationException($"{first.Add(i)} is already owned by {f.Owner:x}");
            }

            f = new FrameInfo { Owner = owner };
        }
    }

    public void Release(Mfn first, ulong count)
    {
        for (ulong i = 0; i < count; i++)
        {
            this[first.Add(i)] = new FrameInfo { Owner = FrameOwner.Free };
        }
    }

    /// <summary>Takes a typed reference: fails (false) if the frame already has another type in use.</summary>
    public bool GetTypedReference(Mfn mfn, PageType type)
    {
        ref FrameInfo f = ref this[mfn];
        if (f.TypeCount != 0 && f.Type != type)
        {
            return false;
        }

        f.Type = type;
        f.TypeCount++;
        f.RefCount++;
        return true;
    }

    public void PutTypedReference(Mfn mfn)
    {
        ref FrameInfo f = ref this[mfn];
        if (f.TypeCount == 0 || f.RefCount == 0)
        {
            throw new InvalidOperationException($"type count underflow on {mfn}");
        }

        f.TypeCount--;
        f.RefCount--;
        if (f.TypeCount == 0)
        {
            f.Type = PageType.None;
        }
    }

    /// <summary>
    /// Takes a general (untyped) reference on a frame <paramref name="owner"/> owns: fails (false) for a frame outside
    /// the table, owned by anyone else (free, Xen's, orphaned), or whose count would overflow. Callers hold the owner's
    /// MMU lock, as for every count change.
    /// </summary>
    internal bool GetReference(Mfn mfn, ushort owner)
    {
        if (!Contains(mfn))
        {
            return false;
        }

        ref FrameInfo f = ref this[mfn];
        if (f.Owner != owner || f.RefCount == uint.MaxValue)
        {
            return false;
        }

        f.RefCount++;
        return true;
    }

    public ulong CountOwnedBy(ushort owner)
    {
        ulong n = 0;
        foreach (ref readonly FrameInfo f in _frames.AsSpan())
        {
            if (f.Owner == owner)
            {
                n++;
            }
        }

        return n;
    }
}
