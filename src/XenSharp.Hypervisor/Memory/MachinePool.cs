using XenSharp.Abi;

namespace XenSharp.Hypervisor.Memory;

/// <summary>
/// The global pool of machine frames: memory, frame table, extent allocator and the machine-to-phys table.
/// The M2P occupies the first frames of the pool (2 MiB aligned so guests map it with large pages).
/// Locking: <see cref="Lock"/> guards the allocator and frame-table ownership changes; M2P entries are single
/// 8-byte writes.
/// </summary>
public sealed class MachinePool
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
        ulong m2pFrames = ((frames * 8) + (LargePageFrames * Mfn.PageSize) - 1) / (LargePageFrames * Mfn.PageSize) * LargePageFrames;
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

    /// <summary>Returns an extent: frame-table entries cleared, M2P entries invalidated, host memory discarded (reads back zero).</summary>
    public void Free(Extent extent)
    {
        lock (Lock)
        {
            Memory.Discard(extent.First.Address, extent.Bytes);
            Frames.Release(extent.First, extent.Count);
            for (ulong i = 0; i < extent.Count; i++)
            {
                SetM2p(extent.First.Add(i), InvalidM2pEntry);
            }

            _allocator.Free(extent.First, extent.Count);
        }
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
