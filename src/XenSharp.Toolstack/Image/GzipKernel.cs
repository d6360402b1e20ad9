using System.Buffers.Binary;
using System.IO.Compression;

namespace XenSharp.Toolstack.Image;

/// <summary>
/// A gzip-compressed kernel file (Mini-OS builds <c>mini-os.gz</c>), unpacked before the ELF is read, as libxc's
/// domain builder does (xc_dom_try_gunzip): a file of at least 6 bytes that starts with the gzip magic 1f 8b and whose
/// trailer's ISIZE (the last 4 bytes, little-endian) is at most <see cref="KernelImageLimits.MaxFileSize"/> is
/// decompressed; anything else is taken as it is. The output may not exceed ISIZE + 16 bytes (libxc's buffer), and
/// it is grown only as inflated bytes actually arrive (<see cref="BoundedOutput"/>), so a file claiming a large ISIZE costs
/// nothing until it delivers.
/// </summary>
internal static class GzipKernel
{
    /// <summary>xc_dom_check_gzip's slack over ISIZE.</summary>
    private const long Slack = 16;

    /// <summary>The decompressed bytes, or <paramref name="file"/> itself when it is not a gzip kernel by libxc's test.</summary>
    public static byte[] Unpack(byte[] file, string name)
    {
        if (file.Length < 6 || file[0] != 0x1f || file[1] != 0x8b)
        {
            return file;
        }

        uint isize = BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan(file.Length - 4));
        if (isize > KernelImageLimits.MaxFileSize)
        {
            return file; // libxc: "looks insane, skip gunzip"; the ELF check then refuses it
        }

        byte[] unpacked;
        try
        {
            using var gzip = new GZipStream(new MemoryStream(file, writable: false), CompressionMode.Decompress);
            if (!BoundedOutput.TryReadAll(gzip, isize + Slack, out unpacked))
            {
                throw KernelImageException.For(name, $"gzip data inflates to more than the {isize} bytes its trailer gives");
            }
        }
        catch (InvalidDataException e)
        {
            throw new KernelImageException($"{name}: bad gzip data: {e.Message}", e);
        }

        return unpacked;
    }
}
