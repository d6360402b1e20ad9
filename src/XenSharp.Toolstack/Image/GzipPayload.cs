using System.IO.Compression;

namespace XenSharp.Toolstack.Image;

/// <summary>A gzip payload (magic 1f 8b); its trailer's ISIZE is the size field Linux's other payloads carry.</summary>
internal static class GzipPayload
{
    public static bool TryDecode(ReadOnlyMemory<byte> payload, long limit, out byte[] output)
    {
        using var gzip = new GZipStream(PayloadStream.Of(payload), CompressionMode.Decompress);
        return BoundedOutput.TryReadAll(gzip, limit, out output);
    }
}
