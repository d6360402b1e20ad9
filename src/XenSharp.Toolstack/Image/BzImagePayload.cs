using System.Buffers.Binary;

namespace XenSharp.Toolstack.Image;

/// <summary>
/// Decompresses a bzImage payload to the vmlinux ELF it holds, choosing the decoder by the payload's magic as libxc's
/// bzimageloader does. Linux's build appends the uncompressed size as a little-endian u32 to every payload (for gzip
/// it is the trailer's ISIZE); that size may be at most <see cref="KernelImageLimits.MaxFileSize"/>, the output is
/// never allowed to grow past it, and it must be met exactly (a shorter output is a cut-off or corrupt stream).
/// Whatever a decoder throws on a corrupt stream becomes one <see cref="KernelImageException"/> line.
/// </summary>
internal static class BzImagePayload
{
    public static byte[] Decompress(ReadOnlyMemory<byte> payload, string name)
    {
        if (payload.Length < 8)
        {
            throw KernelImageException.For(name, $"bzImage payload is {payload.Length} bytes, too short to hold a compressed kernel and its size");
        }

        PayloadCompression compression = Detect(payload.Span)
            ?? throw KernelImageException.For(name, $"bzImage payload has an unknown compression (it starts {Convert.ToHexString(payload.Span[..4])}; gzip, xz, bzip2, lzma, lz4 and zstd are understood)");
        string what = $"bzImage {compression.ToString().ToLowerInvariant()} payload";

        uint size = BinaryPrimitives.ReadUInt32LittleEndian(payload.Span[^4..]);
        if (size > KernelImageLimits.MaxFileSize)
        {
            throw KernelImageException.For(name, $"{what} gives its size as {size} bytes, more than the {KernelImageLimits.MaxFileSize} allowed");
        }

        ReadOnlyMemory<byte> stream = compression == PayloadCompression.Gzip ? payload : payload[..^4];
        bool fits;
        byte[] output;
        try
        {
            fits = compression switch
            {
                PayloadCompression.Gzip => GzipPayload.TryDecode(stream, size, out output),
                PayloadCompression.Xz => XzPayload.TryDecode(stream, size, out output),
                PayloadCompression.Bzip2 => Bzip2Payload.TryDecode(stream, size, out output),
                PayloadCompression.Lzma => LzmaPayload.TryDecode(stream, size, out output),
                PayloadCompression.Lz4 => Lz4LegacyPayload.TryDecode(stream.Span, size, out output),
                _ => ZstdPayload.TryDecode(stream, size, out output),
            };
        }
        // The decoders are third-party code fed hostile bytes: what they throw on a corrupt stream is not specified
        // (InvalidDataException, their own format exceptions, EndOfStream, IndexOutOfRange, ...), so any of it is a
        // corrupt payload, reported with the decoder's words on the same line.
        catch (Exception e) when (e is not (KernelImageException or OutOfMemoryException))
        {
            throw new KernelImageException($"{name}: {what} is corrupt: {OneLine(e.Message)}", e);
        }

        if (!fits)
        {
            throw KernelImageException.For(name, $"{what} decompresses to more than the {size} bytes its size field gives");
        }

        if (output.Length != size)
        {
            throw KernelImageException.For(name, $"{what} decompresses to {output.Length} bytes, not the {size} its size field gives (cut off or corrupt)");
        }

        return output;
    }

    /// <summary>The payload's compression by its first bytes, in libxc's order; null when none matches.</summary>
    public static PayloadCompression? Detect(ReadOnlySpan<byte> payload) => payload switch
    {
        [0x1f, 0x8b, ..] => PayloadCompression.Gzip,
        [(byte)'B', (byte)'Z', (byte)'h', ..] => PayloadCompression.Bzip2,
        [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, ..] => PayloadCompression.Xz,
        [0x5d, 0x00, ..] => PayloadCompression.Lzma,
        [0x02, 0x21, ..] => PayloadCompression.Lz4,
        [0x28, 0xb5, 0x2f, 0xfd, ..] => PayloadCompression.Zstd,
        _ => null,
    };

    private static string OneLine(string message) => string.Join(' ', message.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
}
