using System.Buffers.Binary;
using SharpCompress.Compressors.LZMA;

namespace XenSharp.Toolstack.Image;

/// <summary>
/// An lzma payload in the .lzma ("lzma_alone") format: 5 bytes of properties (lc/lp/pb, dictionary size), the
/// uncompressed size as a little-endian u64 (all ones: unknown, the stream ends with an end marker), then the LZMA
/// stream, decompressed by SharpCompress. The dictionary the decoder allocates is at most the output limit: a
/// dictionary at least as large as the output decodes any stream the same, so a header claiming gigabytes costs nothing.
/// </summary>
internal static class LzmaPayload
{
    private const int HeaderSize = 13;
    private const int MinDictionary = 4096;

    public static bool TryDecode(ReadOnlyMemory<byte> stream, long limit, out byte[] output)
    {
        if (stream.Length < HeaderSize)
        {
            throw new InvalidDataException($"{stream.Length} bytes, shorter than the {HeaderSize}-byte lzma header");
        }

        ReadOnlySpan<byte> header = stream.Span[..HeaderSize];
        if (header[0] >= 9 * 5 * 5)
        {
            throw new InvalidDataException($"lzma properties byte 0x{header[0]:x2} is not a valid lc/lp/pb");
        }

        uint dictionary = BinaryPrimitives.ReadUInt32LittleEndian(header[1..]);
        ulong size = BinaryPrimitives.ReadUInt64LittleEndian(header[5..]);
        bool sizeKnown = size != ulong.MaxValue;
        if (sizeKnown && size > (ulong)limit)
        {
            output = [];
            return false;
        }

        byte[] properties = header[..5].ToArray();
        BinaryPrimitives.WriteUInt32LittleEndian(properties.AsSpan(1), (uint)Math.Clamp(Math.Min(dictionary, limit), MinDictionary, int.MaxValue));
        using var lzma = LzmaStream.Create(properties, PayloadStream.Of(stream[HeaderSize..]), stream.Length - HeaderSize, sizeKnown ? (long)size : -1);
        return BoundedOutput.TryReadAll(lzma, limit, out output);
    }
}
