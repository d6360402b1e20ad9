namespace XenSharp.Hypervisor.Memory;

/// <summary>
/// First-fit allocator of contiguous frame runs over the pool. Free runs are kept sorted and coalesced;
/// not thread-safe on its own (MachinePool serialises it).
/// </summary>
internal sealed class ExtentAllocator
{
    private readonly SortedDictionary<ulong, ulong> _free = new(); // start -> length

    public ExtentAllocator(ulong firstFrame, ulong frameCount)
    {
        if (frameCount > 0)
        {
            _free[firstFrame] = frameCount;
        }

        TotalFrames = frameCount;
        FreeFrames = frameCount;
    }

    public ulong TotalFrames { get; }

    public ulong FreeFrames { get; private set; }

    public ulong LargestFreeRun => _free.Count == 0 ? 0 : _free.Values.Max();

    /// <summary>Allocates <paramref name="count"/> contiguous frames aligned to <paramref name="alignFrames"/>, or returns null.</summary>
    public Mfn? Allocate(ulong count, ulong alignFrames = 1)
    {
        if (count == 0)
        {
            throw new ArgumentOutOfRangeException(nameof(count));
        }

        foreach (KeyValuePair<ulong, ulong> run in _free)
        {
            ulong start = (run.Key + alignFrames - 1) / alignFrames * alignFrames;
            ulong end = run.Key + run.Value;
            if (start >= end || end - start < count)
            {
                continue;
            }

            _free.Remove(run.Key);
            if (start > run.Key)
            {
                _free[run.Key] = start - run.Key;
            }

            if (start + count < end)
            {
                _free[start + count] = end - (start + count);
            }

            FreeFrames -= count;
            return new Mfn(start);
        }

        return null;
    }

    public void Free(Mfn first, ulong count)
    {
        ulong start = first.Value;
        ulong end = start + count;
        foreach (KeyValuePair<ulong, ulong> run in _free)
        {
            if (start < run.Key + run.Value && run.Key < end)
            {
                throw new InvalidOperationException($"double free of frames {start:x}+{count:x}");
            }
        }

        // Coalesce with the neighbours so large extents stay available.
        KeyValuePair<ulong, ulong>? before = null;
        foreach (KeyValuePair<ulong, ulong> run in _free)
        {
            if (run.Key + run.Value == start)
            {
                before = run;
            }
        }

        if (before is { } b)
        {
            _free.Remove(b.Key);
            start = b.Key;
        }

        if (_free.TryGetValue(end, out ulong afterLength))
        {
            _free.Remove(end);
            end += afterLength;
        }

        _free[start] = end - start;
        FreeFrames += count;
    }
}
