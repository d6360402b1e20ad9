using System.Globalization;

namespace XenSharp.Bench;

/// <summary>
/// Figure (i)'s host side: bench/native/splitio.c built static with gcc into a temporary directory (the same binary
/// goes into the guests as a disk), and busybox taken from the Linux guest's own initramfs, so the host's dd is the
/// guest's dd. The directory also holds the host's scratch image; it is deleted with this object.
/// </summary>
public sealed class SplitIo : IDisposable
{
    private SplitIo(string directory)
    {
        Directory = directory;
    }

    /// <summary>The temporary directory: the program, busybox, the host's scratch image.</summary>
    public string Directory { get; }

    /// <summary>The static splitio binary.</summary>
    public string Program => Path.Combine(Directory, "splitio");

    /// <summary>The guest's busybox, extracted from its initramfs.</summary>
    public string Busybox => Path.Combine(Directory, "busybox");

    public static SplitIo Prepare(string source, string initramfs)
    {
        if (!File.Exists(source))
        {
            throw new BenchException($"{source}: no such file");
        }

        var io = new SplitIo(System.IO.Directory.CreateTempSubdirectory("xensharp-bench-split-").FullName);
        try
        {
            ProcessResult r = ProcessResult.Run("gcc", ["-static", "-O2", "-Wall", "-Werror", "-s", source, "-o", io.Program]);
            if (r.ExitCode != 0)
            {
                throw new BenchException($"gcc -static failed on {source} (exit {r.ExitCode}; it needs libc6-dev):\n{r.Stdout}{r.Stderr}");
            }

            byte[] busybox = InitramfsFile.Read(initramfs, "bin/busybox")
                ?? throw new BenchException($"{initramfs} holds no bin/busybox");
            File.WriteAllBytes(io.Busybox, busybox);
            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(io.Busybox, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            }
            return io;
        }
        catch
        {
            io.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The host's dd on a sparse file of <paramref name="mib"/> MiB in this directory, as the guest's on its xvda:
    /// write with conv=fsync (into the existing file, notrunc, as onto a device), then read it back with the page
    /// cache left as the write left it (warm: blkback's reads of the guest's image find the host's cache warm too).
    /// </summary>
    public (SplitIoLine Write, SplitIoLine Read) Disk(int mib)
    {
        string image = Path.Combine(Directory, "host.img");
        using (FileStream f = File.Create(image))
        {
            f.SetLength((long)mib << 20);
        }

        try
        {
            string count = "count=" + mib.ToString(CultureInfo.InvariantCulture);
            SplitIoLine write = Run(["time", Busybox, "dd", "if=/dev/zero", "of=" + image, "bs=1M", count, "conv=notrunc,fsync"]);
            SplitIoLine read = Run(["time", Busybox, "dd", "if=" + image, "of=/dev/null", "bs=1M", count]);
            return (write, read);
        }
        finally
        {
            File.Delete(image);
        }
    }

    /// <summary>TCP over the host's loopback: <paramref name="bytes"/> to a receiver of splitio's own.</summary>
    public SplitIoLine Loopback(long bytes) => Run(["loopback", bytes.ToString(CultureInfo.InvariantCulture)]);

    /// <summary>The file system type the scratch files live on (stat -f), for the heading.</summary>
    public string FileSystem()
    {
        ProcessResult r = ProcessResult.Run("stat", ["-f", "-c", "%T", Directory]);
        return r.ExitCode == 0 ? r.Stdout.Trim() : "unknown";
    }

    public void Dispose() => System.IO.Directory.Delete(Directory, recursive: true);

    private SplitIoLine Run(string[] args)
    {
        ProcessResult r = ProcessResult.Run(Program, args, Directory);
        return r.ExitCode == 0 && SplitIoLine.Parse(r.Stdout) is { } line
            ? line
            : throw new BenchException($"splitio {string.Join(' ', args)} failed (exit {r.ExitCode}): {r.Stdout}{r.Stderr}");
    }
}
