namespace XenSharp.Toolstack.Image;

/// <summary>Overflow-proof "does [offset, offset + size) lie inside the file" test.</summary>
internal static class FileRange
{
    // Comparing against length - offset instead of computing offset + size means a hostile
    // 64-bit offset or size can never wrap around and look small.
    public static bool Fits(ulong offset, ulong size, int fileLength) =>
        offset <= (ulong)fileLength && size <= (ulong)fileLength - offset;
}
