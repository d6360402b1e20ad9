using System.Buffers.Binary;
using System.Security.Cryptography;
using SharpCompress.Compressors.LZMA;
using SharpCompress.Compressors.Xz;

namespace XenSharp.Toolstack.Image;

/// <summary>
/// An xz payload (magic fd 37 7a 58 5a 00), as Linux's <c>xz_wrap.sh</c> writes it: one stream of blocks whose filter
/// chain is LZMA2, optionally after the x86 BCJ filter, with a CRC32 (or none, CRC64, SHA-256) check per block. The
/// container is read here, each block's LZMA2 data is decompressed by SharpCompress's LZMA2 decoder, the BCJ filter is
/// undone over the whole block (<see cref="X86BranchFilter"/>) and the block's check verified. The stream ends at the
/// index; the index and footer are not needed to unpack and are not read. The dictionary the decoder allocates is at
/// most the output limit (a dictionary at least as large as the output decodes any stream the same).
/// </summary>
internal static class XzPayload
{
    private const ulong FilterX86 = 0x04;
    private const ulong FilterLzma2 = 0x21;

    private static ReadOnlySpan<byte> Magic => [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00];

    public static bool TryDecode(ReadOnlyMemory<byte> stream, long limit, out byte[] output)
    {
        ReadOnlySpan<byte> s = stream.Span;
        if (s.Length < 12 || !s[..6].SequenceEqual(Magic))
        {
            throw new InvalidDataException("no xz stream header");
        }

        if (Crc32Of(s[6..8]) != BinaryPrimitives.ReadUInt32LittleEndian(s[8..]))
        {
            throw new InvalidDataException("xz stream header check fails");
        }

        int check = s[7];
        if (s[6] != 0 || check is not (0 or 1 or 4 or 10))
        {
            throw new InvalidDataException($"xz stream flags {s[6]:x2} {s[7]:x2} are not supported");
        }

        int checkSize = check switch { 1 => 4, 4 => 8, 10 => 32, _ => 0 };
        using var result = new MemoryStream();
        int at = 12;
        while (true)
        {
            if (at >= s.Length)
            {
                throw new InvalidDataException("xz stream ends before its index");
            }

            if (s[at] == 0)
            {
                break; // the index
            }

            int blockStart = at;
            (byte dictionaryProperty, bool x86, ulong? packedSize, ulong? unpackedSize, int headerSize) = ReadBlockHeader(s[at..]);
            at += headerSize;

            int outputStart = (int)result.Length;
            using (var dataStream = PayloadStream.Of(stream[at..]))
            {
                using var lzma2 = LzmaStream.Create([Math.Min(dictionaryProperty, DictionaryPropertyFor(limit))], dataStream, -1, -1, null, isLzma2: true, leaveOpen: true);
                if (!BoundedOutput.TryCopy(lzma2, result, limit))
                {
                    output = [];
                    return false;
                }

                at += (int)dataStream.Position;
            }

            if (packedSize is { } p && (ulong)(at - blockStart - headerSize) != p)
            {
                throw new InvalidDataException($"xz block at offset {blockStart} holds {at - blockStart - headerSize} compressed bytes, its header says {p}");
            }

            Span<byte> block = result.GetBuffer().AsSpan(outputStart, (int)result.Length - outputStart);
            if (unpackedSize is { } u && (ulong)block.Length != u)
            {
                throw new InvalidDataException($"xz block at offset {blockStart} unpacks to {block.Length} bytes, its header says {u}");
            }

            if (x86)
            {
                X86BranchFilter.Decode(block);
            }

            while ((at - blockStart) % 4 != 0)
            {
                if (at >= s.Length || s[at++] != 0)
                {
                    throw new InvalidDataException($"xz block at offset {blockStart} has bad padding");
                }
            }

            if (s.Length - at < checkSize)
            {
                throw new InvalidDataException($"xz block at offset {blockStart} is cut off before its check");
            }

            if (!CheckMatches(check, block, s.Slice(at, checkSize)))
            {
                throw new InvalidDataException($"xz block at offset {blockStart} fails its check");
            }

            at += checkSize;
        }

        output = result.ToArray();
        return true;
    }

    private static (byte DictionaryProperty, bool X86, ulong? PackedSize, ulong? UnpackedSize, int HeaderSize) ReadBlockHeader(ReadOnlySpan<byte> s)
    {
        int size = (s[0] + 1) * 4;
        if (s.Length < size)
        {
            throw new InvalidDataException("xz block header is cut off");
        }

        ReadOnlySpan<byte> header = s[..size];
        if (Crc32Of(header[..^4]) != BinaryPrimitives.ReadUInt32LittleEndian(header[^4..]))
        {
            throw new InvalidDataException("xz block header check fails");
        }

        byte flags = header[1];
        if ((flags & 0x3c) != 0)
        {
            throw new InvalidDataException($"xz block flags {flags:x2} are not supported");
        }

        int at = 2;
        ulong? packed = (flags & 0x40) != 0 ? ReadVarint(header, ref at) : null;
        ulong? unpacked = (flags & 0x80) != 0 ? ReadVarint(header, ref at) : null;
        int filters = (flags & 3) + 1;
        bool x86 = false;
        byte? dictionary = null;
        for (int i = 0; i < filters; i++)
        {
            ulong id = ReadVarint(header, ref at);
            ulong propertiesSize = ReadVarint(header, ref at);
            bool last = i == filters - 1;
            if (id == FilterX86 && !last && !x86 && propertiesSize == 0)
            {
                x86 = true;
            }
            else if (id == FilterLzma2 && last && propertiesSize == 1 && at < header.Length - 4 && header[at] <= 40)
            {
                dictionary = header[at++];
            }
            else
            {
                throw new InvalidDataException($"xz filter chain is not LZMA2 or x86 BCJ + LZMA2 (filter 0x{id:x} with {propertiesSize} property bytes)");
            }
        }

        if (dictionary is not { } d || header[at..^4].ContainsAnyExcept((byte)0))
        {
            throw new InvalidDataException("xz block header is malformed");
        }

        return (d, x86, packed, unpacked, size);
    }

    private static ulong ReadVarint(ReadOnlySpan<byte> header, ref int at)
    {
        ulong value = 0;
        for (int shift = 0; shift < 63; shift += 7)
        {
            if (at >= header.Length - 4)
            {
                break;
            }

            byte b = header[at++];
            value |= (ulong)(b & 0x7f) << shift;
            if ((b & 0x80) == 0)
            {
                return value;
            }
        }

        throw new InvalidDataException("xz block header holds a bad number");
    }

    /// <summary>The smallest LZMA2 dictionary property (2 or 3 times a power of two, from 4 KiB) whose size is at least <paramref name="bytes"/>.</summary>
    private static byte DictionaryPropertyFor(long bytes)
    {
        byte p = 0;
        while (p < 40 && DictionarySize(p) < bytes)
        {
            p++;
        }

        return p;
    }

    private static long DictionarySize(byte property) => (2L | (property & 1L)) << (property / 2 + 11);

    private static uint Crc32Of(ReadOnlySpan<byte> data) => ~Crc32.Update(Crc32.DefaultSeed, data);

    private static bool CheckMatches(int check, ReadOnlySpan<byte> data, ReadOnlySpan<byte> expected) => check switch
    {
        1 => Crc32Of(data) == BinaryPrimitives.ReadUInt32LittleEndian(expected),
        4 => Crc64.ComputeXz(data.ToArray()) == BinaryPrimitives.ReadUInt64LittleEndian(expected),
        10 => SHA256.HashData(data).AsSpan().SequenceEqual(expected),
        _ => true,
    };
}
