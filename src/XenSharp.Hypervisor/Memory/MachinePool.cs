using XenSharp.Abi;

namespace XenSharp.Hypervisor.Memory;

/// <summary>
/// The global pool of machine frames: memory, frame table, extent allocator and the machine-to-phys table.
/// The M2P occupies the first frames of the pool (2 MiB aligned so guests map it with large pages).
/// Locking: <see cref="Lock"/> guards the allocator and frame-table ownership changes; M2P entries are single
/// 8-byte writes.
/// </summary>
internal sealed class MachinePool
{
    public const ulong InvalidM2pEntry = ulong.MaxValue;
    private const ulong LargePageFrames = 512;

    private readonly ExtentAllocator _allocator;

    public MachinePool(IMachineMemory memory)
    {
        if (memory.Size % (LargePageFrames * Mfn.PageSize) != 0 || memory.Size == 0)
        {
            throw new ArgumentException("the machine pool must be a non-zero multiple of 2 MiB", nameof(memory));
        }

        Memory = memory;
        ulong frames = memory.Size >> Mfn.PageShift;
        Frames = new FrameTable(frames);
        ulong m2pFrames = M2pFramesFor(frames);
        if (m2pFrames >= frames)
        {
            throw new ArgumentException("the machine pool is too small to hold its own M2P table", nameof(memory));
        }

        M2p = new Extent(new Mfn(0), m2pFrames);
        Frames.Assign(M2p.First, M2p.Count, FrameOwner.Xen);
        _allocator = new ExtentAllocator(m2pFrames, frames - m2pFrames);
        memory.GetSpan(0, checked((int)(frames * 8))).Fill(0xff);
    }

    public IMachineMemory Memory { get; }

    /// <summary>The frames the M2P of a pool of <paramref name="frames"/> takes: 8 bytes a frame, in whole 2 MiB pages.</summary>
    public static ulong M2pFramesFor(ulong frames) =>
        ((frames * 8) + (LargePageFrames * Mfn.PageSize) - 1) / (LargePageFrames * Mfn.PageSize) * LargePageFrames;

    public FrameTable Frames { get; }

    public Extent M2p { get; }

    public object Lock { get; } = new();

    public ulong TotalFrames => Frames.FrameCount;

    public ulong FreeFrames
    {
        get
        {
            lock (Lock)
            {
                return _allocator.FreeFrames;
            }
        }
    }

    /// <summary>Allocates a contiguous, zeroed extent for <paramref name="owner"/>, or null when no run is large enough.</summary>
    public Extent? Allocate(ulong count, ushort owner, ulong alignFrames = 1)
    {
        lock (Lock)
        {
            Mfn? first = _allocator.Allocate(count, alignFrames);
            if (first is not { } f)
            {
                return null;
            }

            Frames.Assign(f, count, owner);
            return new Extent(f, count);
        }
    }

    /// <summary>
    /// Returns an extent: frame-table entries cleared, M2P entries invalidated, host memory discarded (reads back zero).
    /// A frame another domain still maps through a grant (<see cref="FrameInfo.ForeignRefs"/>) is not returned: it
    /// becomes <see cref="FrameOwner.Orphaned"/>, keeps its contents for the mapper, and is freed by
    /// <see cref="DropForeignReference"/> when its last foreign reference goes.
    /// </summary>
    public void Free(Extent extent)
    {
        lock (Lock)
        {
            ulong runStart = 0;
            for (ulong i = 0; i <= extent.Count; i++)
            {
                bool orphan = i < extent.Count && Frames[extent.First.Add(i)].ForeignRefs != 0;
                if (i == extent.Count || orphan)
                {
                    if (i > runStart)
                    {
                        FreeRun(extent.First.Add(runStart), i - runStart);
                    }

                    runStart = i + 1;
                }

                if (orphan)
                {
                    Mfn mfn = extent.First.Add(i);
                    Frames[mfn].Owner = FrameOwner.Orphaned;
                    SetM2p(mfn, InvalidM2pEntry);
                    OrphanedFrames++;
                }
            }
        }
    }

    /// <summary>Frames kept for other domains' grant mappings after their owner was destroyed.</summary>
    public ulong OrphanedFrames { get; private set; }

    /// <summary>
    /// Takes one foreign reference off <paramref name="mfn"/>'s count (the caller dropped the reference itself, or,
    /// for an orphaned frame, need not). The last one of an orphaned frame frees it.
    /// </summary>
    public void DropForeignReference(Mfn mfn)
    {
        lock (Lock)
        {
            ref FrameInfo f = ref Frames[mfn];
            if (f.ForeignRefs == 0)
            {
                throw new InvalidOperationException($"foreign reference count underflow on {mfn}");
            }

            f.ForeignRefs--;
            if (f.ForeignRefs == 0 && f.Owner == FrameOwner.Orphaned)
            {
                f = new FrameInfo { Owner = FrameOwner.Free };
                FreeRun(mfn, 1);
                OrphanedFrames--;
            }
        }
    }

    private void FreeRun(Mfn first, ulong count)
    {
        Memory.Discard(first.Address, count * Mfn.PageSize);
        Frames.Release(first, count);
        for (ulong i = 0; i < count; i++)
        {
            SetM2p(first.Add(i), InvalidM2pEntry);
        }

        _allocator.Free(first, count);
    }

    public Span<byte> Frame(Mfn mfn) => Memory.GetSpan(mfn.Address, Mfn.PageSize);

    public Span<ulong> FrameAsEntries(Mfn mfn) => System.Runtime.InteropServices.MemoryMarshal.Cast<byte, ulong>(Frame(mfn));

    public void SetM2p(Mfn mfn, ulong pfn) =>
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(Memory.GetSpan(mfn.Value * 8, 8), pfn);

    public ulong GetM2p(Mfn mfn) =>
        System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(Memory.GetSpan(mfn.Value * 8, 8));

    /// <summary>The M2P's 2 MiB pages, for the read-only mapping at <see cref="XenVirtualLayout.MachToPhysStart"/>.</summary>
    public int M2pLargePages => (int)(M2p.Count / LargePageFrames);
}
