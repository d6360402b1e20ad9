using System.Buffers.Binary;

namespace XenSharp.Tests.Block;

/// <summary>
/// The crash test's write stream, the same in the child that writes it and in the test that checks the image after
/// killing it. Invariants: it is a function of (<see cref="Slots"/>, <see cref="FlushEvery"/>) alone; write w (from 0)
/// puts 1 to 8 consecutive 4 KiB blocks at the next block (back to block 0 when the image's end would be crossed),
/// every block holding <see cref="Fill"/>(slot, w + 1); after every <see cref="FlushEvery"/> writes comes a flush. Every
/// 4 KiB block names its slot and its write in its first 16 bytes and is a pattern of both after that, so a block
/// is exactly one write's (or the prefill's, write 0) or it is garbage: a torn write, sectors of two writes, another
/// block's data.
/// </summary>
internal sealed class BlockCrashStream(int slots, int flushEvery)
{
    public const int BlockSize = 4096;
    public const int SectorsPerBlock = BlockSize / 512;
    public const int MaxBlocksPerWrite = 8;

    public int Slots { get; } = slots;

    public int FlushEvery { get; } = flushEvery;

    /// <summary>The stream, in the order the child sends it (without end; the child is killed).</summary>
    public IEnumerable<CrashOp> Ops()
    {
        int next = 0;
        for (long w = 0; ; w++)
        {
            int count = 1 + (int)(((w * 5) + 3) % MaxBlocksPerWrite);
            if (next + count > Slots)
            {
                next = 0;
            }

            yield return new CrashOp(false, w, next, count);
            next += count;
            if ((w + 1) % FlushEvery == 0)
            {
                yield return new CrashOp(true, w / FlushEvery, 0, 0);
            }
        }
    }

    /// <summary>Block <paramref name="slot"/> as write <paramref name="id"/> (1-based; 0 is the prefill) leaves it.</summary>
    public static void Fill(Span<byte> block, int slot, long id)
    {
        BinaryPrimitives.WriteInt64LittleEndian(block, slot);
        BinaryPrimitives.WriteInt64LittleEndian(block[8..], id);
        ulong x = ((ulong)(slot + 1) * 0x9E3779B97F4A7C15UL) ^ ((ulong)(id + 1) * 0xBF58476D1CE4E5B9UL);
        for (int i = 16; i < BlockSize; i += 8)
        {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            BinaryPrimitives.WriteUInt64LittleEndian(block[i..], x);
        }
    }

    /// <summary>Which write <paramref name="block"/> is exactly, as block <paramref name="slot"/>; null when it is garbage.</summary>
    public static long? Identify(ReadOnlySpan<byte> block, int slot)
    {
        long id = BinaryPrimitives.ReadInt64LittleEndian(block[8..]);
        if (BinaryPrimitives.ReadInt64LittleEndian(block) != slot || id < 0)
        {
            return null;
        }

        Span<byte> expected = stackalloc byte[BlockSize];
        Fill(expected, slot, id);
        return block.SequenceEqual(expected) ? id : null;
    }
}
