using SharpCompress.Compressors;
using SharpCompress.Compressors.BZip2;

namespace XenSharp.Toolstack.Image;

/// <summary>A bzip2 payload (magic "BZh"), decompressed by SharpCompress.</summary>
internal static class Bzip2Payload
{
    public static bool TryDecode(ReadOnlyMemory<byte> stream, long limit, out byte[] output)
    {
        using var bzip2 = BZip2Stream.Create(PayloadStream.Of(stream), CompressionMode.Decompress, decompressConcatenated: false);
        return BoundedOutput.TryReadAll(bzip2, limit, out output);
    }
}
