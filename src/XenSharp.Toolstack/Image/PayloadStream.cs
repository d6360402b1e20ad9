using System.Runtime.InteropServices;

namespace XenSharp.Toolstack.Image;

/// <summary>A read-only stream over payload bytes, without copying them when they are part of an array.</summary>
internal static class PayloadStream
{
    public static MemoryStream Of(ReadOnlyMemory<byte> bytes) =>
        MemoryMarshal.TryGetArray(bytes, out ArraySegment<byte> segment)
            ? new MemoryStream(segment.Array!, segment.Offset, segment.Count, writable: false)
            : new MemoryStream(bytes.ToArray(), writable: false);
}
