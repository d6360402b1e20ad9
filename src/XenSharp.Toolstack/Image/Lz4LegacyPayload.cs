using System.Buffers.Binary;
using K4os.Compression.LZ4;

namespace XenSharp.Toolstack.Image;

/// <summary>
/// An lz4 payload in the legacy frame format Linux's build writes (<c>lz4 -l</c>): the magic 0x184C2102 (little-endian),
/// then blocks, each a little-endian u32 length and that many bytes of an LZ4 block that decodes to at most 8 MiB; a
/// length equal to the magic starts another frame. Blocks are decoded by K4os.Compression.LZ4, one at a time.
/// </summary>
internal static class Lz4LegacyPayload
{
    public const uint Magic = 0x184C2102;

    /// <summary>The legacy format's block size (LZ4_DEFAULT_UNCOMPRESSED_CHUNK_SIZE in Linux's unlz4).</summary>
    public const int MaxBlockSize = 8 << 20;

    public static bool TryDecode(ReadOnlySpan<byte> stream, long limit, out byte[] output)
    {
        if (stream.Length < 4 || BinaryPrimitives.ReadUInt32LittleEndian(stream) != Magic)
        {
            throw new InvalidDataException("no lz4 legacy frame magic");
        }

        using var result = new MemoryStream();
        byte[] block = new byte[MaxBlockSize];
        int at = 4;
        while (at < stream.Length)
        {
            if (stream.Length - at < 4)
            {
                throw new InvalidDataException($"block length at offset {at} is cut off");
            }

            uint length = BinaryPrimitives.ReadUInt32LittleEndian(stream[at..]);
            at += 4;
            if (length == Magic)
            {
                continue;
            }

            if (length > (uint)(stream.Length - at))
            {
                throw new InvalidDataException($"block of {length} bytes at offset {at - 4} runs past the end of the stream");
            }

            int n = LZ4Codec.Decode(stream.Slice(at, (int)length), block);
            if (n < 0)
            {
                throw new InvalidDataException($"block at offset {at - 4} does not decode");
            }

            if (result.Length + n > limit)
            {
                output = [];
                return false;
            }

            result.Write(block, 0, n);
            at += (int)length;
        }

        output = result.ToArray();
        return true;
    }
}
