using ZstdSharp;

namespace XenSharp.Toolstack.Image;

/// <summary>A zstd payload (magic 28 b5 2f fd), decompressed by ZstdSharp; a stream that ends inside a frame is an error.</summary>
internal static class ZstdPayload
{
    public static bool TryDecode(ReadOnlyMemory<byte> stream, long limit, out byte[] output)
    {
        using var zstd = new DecompressionStream(PayloadStream.Of(stream), checkEndOfStream: true, leaveOpen: false);
        return BoundedOutput.TryReadAll(zstd, limit, out output);
    }
}
