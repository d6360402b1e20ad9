namespace XenSharp.Toolstack.Image;

/// <summary>
/// Reads a decompressing stream to its end into memory, never holding more than a limit: the buffer grows only as
/// decompressed bytes actually arrive, so a stream that merely claims a large size costs nothing until it delivers, and
/// no read asks for more than one byte past the limit, so a stream is stopped as soon as it passes it (before it checks
/// a trailer, or reaches data a decoder sized for the limit could not decode).
/// </summary>
internal static class BoundedOutput
{
    private const int ChunkSize = 64 * 1024;

    /// <summary>False when the stream delivers more than <paramref name="limit"/> bytes (reading stops there).</summary>
    public static bool TryReadAll(Stream source, long limit, out byte[] bytes)
    {
        using var output = new MemoryStream();
        if (!TryCopy(source, output, limit))
        {
            bytes = [];
            return false;
        }

        bytes = output.ToArray();
        return true;
    }

    /// <summary>Appends the stream to <paramref name="output"/>; false when that would take it past <paramref name="limit"/> bytes.</summary>
    public static bool TryCopy(Stream source, MemoryStream output, long limit)
    {
        byte[] chunk = new byte[ChunkSize];
        int n;
        while ((n = source.Read(chunk, 0, (int)Math.Min(chunk.Length, limit - output.Length + 1))) > 0)
        {
            if (output.Length + n > limit)
            {
                return false;
            }

            output.Write(chunk, 0, n);
        }

        return true;
    }
}
