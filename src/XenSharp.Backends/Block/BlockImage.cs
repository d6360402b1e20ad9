using Microsoft.Win32.SafeHandles;
using XenSharp.Abi;

namespace XenSharp.Backends.Block;

/// <summary>
/// A raw disk image (a regular file or a block device) as one virtual block device sees it: whole 512-byte sectors
/// from 0 to <see cref="Sectors"/>. Read-write images are opened exclusively (an advisory lock: no second domain or
/// process opens them through XenSharp meanwhile); read-only ones shared, so several domains can read one image.
/// <para>
/// Durability: <see cref="Write"/> returns once pwrite has put every byte in the host file (the page cache);
/// <see cref="Flush"/> returns once fdatasync has put them on the medium. Errors are returned, never thrown.
/// </para>
/// </summary>
public sealed class BlockImage : IDisposable
{
    private readonly SafeFileHandle _file;

    private BlockImage(string path, SafeFileHandle file, bool readOnly, long sectors, bool isBlockDevice)
    {
        Path = path;
        _file = file;
        ReadOnly = readOnly;
        Sectors = sectors;
        IsBlockDevice = isBlockDevice;
    }

    public string Path { get; }

    public bool ReadOnly { get; }

    /// <summary>The size in 512-byte sectors (a file's trailing partial sector is not part of the disk).</summary>
    public long Sectors { get; }

    public bool IsBlockDevice { get; }

    /// <summary>Whether discard punches holes (regular files; a block device's discard is not passed on yet).</summary>
    public bool CanDiscard => !IsBlockDevice && !ReadOnly;

    /// <summary>Opens <paramref name="path"/>; an IOException or UnauthorizedAccessException says why not.</summary>
    public static BlockImage Open(string path, bool readOnly)
    {
        SafeFileHandle file = File.OpenHandle(
            path,
            FileMode.Open,
            readOnly ? FileAccess.Read : FileAccess.ReadWrite,
            readOnly ? FileShare.Read : FileShare.None);
        try
        {
            // fstat gives a regular file's size; a block device has none there, but seeking to its end finds it.
            long length = RandomAccess.GetLength(file);
            bool isBlockDevice = false;
            if (length == 0)
            {
                length = Math.Max(0, HostFileCalls.EndOffset(file));
                isBlockDevice = length > 0;
            }

            return new BlockImage(path, file, readOnly, length / BlkifLayout.SectorSize, isBlockDevice);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>Reads exactly <paramref name="into"/>.Length bytes at <paramref name="offset"/>; false on an I/O error or a short read.</summary>
    public bool Read(Span<byte> into, long offset)
    {
        try
        {
            int done = 0;
            while (done < into.Length)
            {
                int n = RandomAccess.Read(_file, into[done..], offset + done);
                if (n <= 0)
                {
                    return false;
                }

                done += n;
            }

            return true;
        }
        catch (IOException)
        {
            return false;
        }
    }

    /// <summary>pwrite of all of <paramref name="from"/> at <paramref name="offset"/>; false on an I/O error.</summary>
    public bool Write(ReadOnlySpan<byte> from, long offset)
    {
        try
        {
            RandomAccess.Write(_file, from, offset);
            return true;
        }
        catch (IOException)
        {
            return false;
        }
    }

    /// <summary>fdatasync: every write that returned is on the medium when this returns true.</summary>
    public bool Flush() => HostFileCalls.DataSync(_file) == 0;

    /// <summary>Punches a hole over the range (it then reads as zeros); the errno, 0 on success.</summary>
    public int Discard(long offset, long length) => HostFileCalls.PunchHole(_file, offset, length);

    public void Dispose() => _file.Dispose();
}
