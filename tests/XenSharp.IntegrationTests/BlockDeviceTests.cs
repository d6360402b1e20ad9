using System.Globalization;
using System.Security.Cryptography;
using XenSharp.IntegrationTests.Support;
using Xunit;
using Xunit.Abstractions;

namespace XenSharp.IntegrationTests;

/// <summary>
/// Debian's Linux with `disk=['IMAGE,raw,xvda,rw']`: its xen-blkfront (loaded by the initramfs) meets XenSharp's
/// blkback, /dev/xvda appears with the image's size, a read returns what the host put there, and a write is on the
/// host's file, byte for byte, when the domain is gone.
/// </summary>
[Collection(LinuxGuestTests.Collection)]
public sealed class BlockDeviceTests(ITestOutputHelper output)
{
    private const int ImageBytes = 4 << 20;
    private const int Region = 1 << 20;

    /// <summary>
    /// The guest checks itself (linux_guest_run): it waits for /dev/xvda, prints its size in sectors and the md5 of its
    /// first MiB, writes a MiB of random bytes at 1 MiB with conv=fsync and prints their md5, drops its page cache and
    /// prints the md5 of what it reads back there, then powers off.
    /// </summary>
    [KvmFact]
    public async Task Linux_ReadsAndWritesAnImageThroughBlkfront()
    {
        await LinuxGuestTests.PrepareAsync();
        using var dir = new TempDir();
        byte[] pattern = new byte[ImageBytes];
        for (int i = 0; i < pattern.Length; i++)
        {
            pattern[i] = (byte)((i * 7) + (i >> 12));
        }

        string image = dir.File("disk.img", pattern);
        const string check =
            "n=0; while [ ! -b /dev/xvda ] && [ $n -lt 600 ]; do sleep 1; n=$((n+1)); done; "
            + "echo blk-size $(cat /sys/block/xvda/size); "
            + "echo blk-read $(head -c 1048576 /dev/xvda | md5sum); "
            + "head -c 1048576 /dev/urandom > /tmp/w; echo blk-wrote $(md5sum < /tmp/w); "
            + "dd if=/tmp/w of=/dev/xvda bs=4096 seek=256 conv=fsync 2>/dev/null; echo 3 > /proc/sys/vm/drop_caches; "
            + "echo blk-back $(dd if=/dev/xvda bs=4096 skip=256 count=256 2>/dev/null | md5sum); poweroff -f";
        CliResult r = await LinuxDeviceRun.RunAsync(dir, "linux-disk", $"disk = [ '{image},raw,xvda,rw' ]", check, output);

        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("(XEN) linux-disk: powered off", r.StderrLines);
        Assert.DoesNotContain(r.StderrLines, l => l.Contains("'disk'", StringComparison.Ordinal));
        IReadOnlyList<string> lines = Guests.Lines(r.Stdout);
        Assert.Equal((ImageBytes / 512).ToString(CultureInfo.InvariantCulture), Word(lines, "blk-size"));
        Assert.Equal(Md5(pattern.AsSpan(0, Region)), Word(lines, "blk-read"));
        string wrote = Word(lines, "blk-wrote");
        Assert.Equal(wrote, Word(lines, "blk-back"));
        byte[] after = File.ReadAllBytes(image);
        Assert.Equal(wrote, Md5(after.AsSpan(Region, Region)));
        Assert.True(after.AsSpan(0, Region).SequenceEqual(pattern.AsSpan(0, Region)), "the first MiB changed");
        Assert.True(after.AsSpan(2 * Region).SequenceEqual(pattern.AsSpan(2 * Region)), "the image changed past the written MiB");
    }

    private static string Word(IReadOnlyList<string> lines, string marker)
    {
        string? line = lines.LastOrDefault(l => l.StartsWith(marker + " ", StringComparison.Ordinal));
        Assert.True(line is not null, $"no '{marker}' line from the guest");
        return line![(marker.Length + 1)..].Split([' ', '\r'], StringSplitOptions.RemoveEmptyEntries)[0];
    }

    private static string Md5(ReadOnlySpan<byte> data) => Convert.ToHexStringLower(MD5.HashData(data));
}
