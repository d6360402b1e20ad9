using System.Buffers.Binary;
using System.IO.Compression;
using K4os.Compression.LZ4;
using SharpCompress.Compressors.BZip2;
using SharpCompress.Compressors.LZMA;
using SharpCompress.Compressors.Xz;
using XenSharp.Toolstack.Image;
using ZstdSharp;
using SharpCompressionMode = SharpCompress.Compressors.CompressionMode;

namespace XenSharp.Tests.Image;

/// <summary>
/// Compresses a vmlinux into a bzImage payload as Linux's build does (scripts/Makefile.lib): gzip as it is, every other
/// format followed by the uncompressed size as a little-endian u32. Encoded at test time by the libraries the loader
/// decodes with, where they encode: SharpCompress (bzip2, lzma), ZstdSharp, K4os LZ4 blocks in the legacy frame. No
/// library here writes xz, so <see cref="Xz"/> assembles the container itself: the x86 BCJ filter applied by the
/// loader's own encoder, then LZMA2 uncompressed chunks (valid LZMA2 that any decoder must take), with CRC32 checks.
/// </summary>
internal static class PayloadEncoder
{
    public static byte[] Encode(string format, byte[] data) => format switch
    {
        "gzip" => Gzip(data),
        "xz" => Xz(data),
        "bzip2" => Bzip2(data),
        "lzma" => Lzma(data),
        "lz4" => Lz4(data),
        "zstd" => Zstd(data),
        _ => throw new ArgumentOutOfRangeException(nameof(format), format, "no such payload format"),
    };

    public static byte[] Gzip(byte[] data)
    {
        using var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.Optimal, leaveOpen: true))
        {
            gzip.Write(data);
        }

        return output.ToArray();
    }

    public static byte[] Bzip2(byte[] data)
    {
        using var output = new MemoryStream();
        using (var bzip2 = BZip2Stream.Create(output, SharpCompressionMode.Compress, decompressConcatenated: false, leaveOpen: true))
        {
            bzip2.Write(data);
        }

        return WithSize(output.ToArray(), data.Length);
    }

    /// <summary>The .lzma format: properties (lc3 lp0 pb2, a 64 KiB dictionary), size unknown, an end marker.</summary>
    public static byte[] Lzma(byte[] data, uint? dictionaryInHeader = null)
    {
        using var stream = new MemoryStream();
        byte[] properties;
        using (var lzma = LzmaStream.Create(new LzmaEncoderProperties(eos: true, dictionary: 1 << 16), false, stream))
        {
            lzma.Write(data);
            properties = lzma.Properties;
        }

        var header = new byte[13];
        properties.CopyTo(header, 0);
        if (dictionaryInHeader is { } d)
            BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(1), d);
        BinaryPrimitives.WriteUInt64LittleEndian(header.AsSpan(5), ulong.MaxValue);
        return WithSize([.. header, .. stream.ToArray()], data.Length);
    }

    /// <summary>The lz4 legacy frame (<c>lz4 -l</c>): magic, then u32 length + LZ4 block, one per <paramref name="blockSize"/> bytes.</summary>
    public static byte[] Lz4(byte[] data, int blockSize = Lz4LegacyPayload.MaxBlockSize)
    {
        using var output = new MemoryStream();
        Span<byte> word = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(word, Lz4LegacyPayload.Magic);
        output.Write(word);
        for (int at = 0; at < data.Length; at += blockSize)
        {
            ReadOnlySpan<byte> chunk = data.AsSpan(at, Math.Min(blockSize, data.Length - at));
            var block = new byte[LZ4Codec.MaximumOutputSize(chunk.Length)];
            int n = LZ4Codec.Encode(chunk, block, LZ4Level.L12_MAX);
            BinaryPrimitives.WriteUInt32LittleEndian(word, (uint)n);
            output.Write(word);
            output.Write(block, 0, n);
        }

        return WithSize(output.ToArray(), data.Length);
    }

    public static byte[] Zstd(byte[] data)
    {
        using var compressor = new Compressor(19);
        return WithSize(compressor.Wrap(data).ToArray(), data.Length);
    }

    /// <summary>An xz stream of one block, filters x86 BCJ + LZMA2 as Linux's xz_wrap.sh chooses, CRC32 check.</summary>
    public static byte[] Xz(byte[] data)
    {
        var output = new List<byte>();
        output.AddRange([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 0x00, 0x01]); // magic, flags: CRC32 check
        AddCrc32(output, 6, 2);

        int blockStart = output.Count;
        output.AddRange([2, 0x01, 0x04, 0x00, 0x21, 0x01, 0x08, 0x00]); // 12-byte header: 2 filters, x86 BCJ, LZMA2 (dict 64 KiB)
        AddCrc32(output, blockStart, 8);

        byte[] filtered = (byte[])data.Clone();
        X86BranchFilter.Encode(filtered);
        for (int at = 0; at < filtered.Length; at += 0x10000)
        {
            int n = Math.Min(0x10000, filtered.Length - at);
            output.Add(at == 0 ? (byte)0x01 : (byte)0x02); // uncompressed chunk (the first resets the dictionary)
            output.Add((byte)((n - 1) >> 8));
            output.Add((byte)(n - 1));
            output.AddRange(filtered.AsSpan(at, n));
        }

        output.Add(0x00); // end of LZMA2 data
        int unpadded = output.Count - blockStart + 4;
        while ((output.Count - blockStart) % 4 != 0)
            output.Add(0);
        AddUInt32(output, Crc32Of(data));

        int indexStart = output.Count;
        output.Add(0x00);
        AddVarint(output, 1);
        AddVarint(output, (ulong)unpadded);
        AddVarint(output, (ulong)data.Length);
        while ((output.Count - indexStart) % 4 != 0)
            output.Add(0);
        AddCrc32(output, indexStart, output.Count - indexStart);

        int footerStart = output.Count;
        AddUInt32(output, 0); // the footer's CRC32, filled in below
        AddUInt32(output, (uint)((footerStart - indexStart) / 4 - 1));
        output.AddRange([0x00, 0x01, (byte)'Y', (byte)'Z']);
        byte[] xz = output.ToArray();
        BinaryPrimitives.WriteUInt32LittleEndian(xz.AsSpan(footerStart), Crc32Of(xz.AsSpan(footerStart + 4, 6)));
        return WithSize(xz, data.Length);
    }

    public static byte[] WithSize(byte[] stream, int size)
    {
        var payload = new byte[stream.Length + 4];
        stream.CopyTo(payload, 0);
        BinaryPrimitives.WriteUInt32LittleEndian(payload.AsSpan(stream.Length), (uint)size);
        return payload;
    }

    private static uint Crc32Of(ReadOnlySpan<byte> data) => ~Crc32.Update(Crc32.DefaultSeed, data);

    private static void AddCrc32(List<byte> output, int start, int length) =>
        AddUInt32(output, Crc32Of(output.GetRange(start, length).ToArray()));

    private static void AddUInt32(List<byte> output, uint value)
    {
        Span<byte> word = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(word, value);
        output.AddRange(word);
    }

    private static void AddVarint(List<byte> output, ulong value)
    {
        while (value >= 0x80)
        {
            output.Add((byte)(value | 0x80));
            value >>= 7;
        }

        output.Add((byte)value);
    }
}
