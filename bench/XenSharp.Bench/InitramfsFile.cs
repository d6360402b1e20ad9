using System.Globalization;
using System.IO.Compression;
using System.Text;

namespace XenSharp.Bench;

/// <summary>One regular file out of a gzip'd cpio archive in the "newc" format (an initramfs as tools/linux-guest builds it).</summary>
public static class InitramfsFile
{
    private const int HeaderSize = 110;

    /// <summary>The contents of <paramref name="path"/> (with or without a leading "./"), or null if the archive has no such file.</summary>
    public static byte[]? Read(string archive, string path)
    {
        using var gz = new GZipStream(File.OpenRead(archive), CompressionMode.Decompress);
        using var data = new MemoryStream();
        gz.CopyTo(data);
        byte[] a = data.GetBuffer();
        long length = data.Length;
        long at = 0;
        while (at + HeaderSize <= length)
        {
            string magic = Encoding.ASCII.GetString(a, (int)at, 6);
            if (magic is not ("070701" or "070702"))
            {
                throw new BenchException($"{archive}: not a newc cpio archive at offset {at}");
            }

            long Field(int i) => long.Parse(Encoding.ASCII.GetString(a, (int)at + 6 + (8 * i), 8), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            long size = Field(6), nameSize = Field(11);
            string name = Encoding.ASCII.GetString(a, (int)at + HeaderSize, (int)nameSize - 1);
            if (name == "TRAILER!!!")
            {
                return null;
            }

            long dataAt = Align4(at + HeaderSize + nameSize);
            if (name.TrimStart('.', '/') == path.TrimStart('.', '/'))
            {
                return a.AsSpan((int)dataAt, (int)size).ToArray();
            }

            at = Align4(dataAt + size);
        }

        return null;
    }

    private static long Align4(long x) => (x + 3) & ~3L;
}
