using System.IO.Compression;
using System.Text;
using XenSharp.Bench;
using Xunit;

namespace XenSharp.Tests.Bench;

/// <summary>bench/ figure (i) reads splitio's "bytes=B ns=N" results from guest consoles and the host, and takes the guest's busybox out of the initramfs.</summary>
public sealed class SplitIoParsingTests
{
    [Fact]
    public void TheLastResultAfterTheMarkerIsTaken_PrefixesAndCrIgnored()
    {
        const string console = "[a] split-disk-write bytes=0 ns=5\r\n[a] split-disk-read bytes=33554432 ns=1000000000\r\n"
            + "[b] split-recv listening bytes=7 ns=9\n[a] split-disk-write bytes=0 ns=2000000000\n";
        Assert.Equal(new SplitIoLine(0, 2_000_000_000), SplitIoLine.Find(console, "split-disk-write"));
        Assert.Equal(new SplitIoLine(7, 9), SplitIoLine.Find(console, "split-recv"));
        Assert.Null(SplitIoLine.Find(console, "split-send"));
        Assert.Equal(33.554432, SplitIoLine.Find(console, "split-disk-read")!.MegabytesPerSecond(33554432), 6);
    }

    [Fact]
    public void AHostResultStandsAlone()
    {
        Assert.Equal(new SplitIoLine(10, 20), SplitIoLine.Parse("bytes=10 ns=20\n"));
        Assert.Null(SplitIoLine.Parse("splitio: connect: refused"));
    }

    [Fact]
    public void AFileComesOutOfANewcArchive_WithOrWithoutDotSlash()
    {
        string path = Path.GetTempFileName();
        try
        {
            using (var gz = new GZipStream(File.Create(path), CompressionLevel.Fastest))
            {
                Entry(gz, ".", []);
                Entry(gz, "./bin/busybox", Encoding.ASCII.GetBytes("ELF!!"));
                Entry(gz, "init", Encoding.ASCII.GetBytes("#!/bin/sh\n"));
                Entry(gz, "TRAILER!!!", []);
            }

            Assert.Equal("ELF!!", Encoding.ASCII.GetString(InitramfsFile.Read(path, "bin/busybox")!));
            Assert.Equal("#!/bin/sh\n", Encoding.ASCII.GetString(InitramfsFile.Read(path, "./init")!));
            Assert.Null(InitramfsFile.Read(path, "sbin/nothing"));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void NotACpioArchiveIsABenchError()
    {
        string path = Path.GetTempFileName();
        try
        {
            using (var gz = new GZipStream(File.Create(path), CompressionLevel.Fastest))
            {
                gz.Write(new byte[200]);
            }

            Assert.Throws<BenchException>(() => InitramfsFile.Read(path, "init"));
        }
        finally
        {
            File.Delete(path);
        }
    }

    // One newc entry: "070701", 13 eight-digit hex fields (namesize the 12th, filesize the 7th), the name with its NUL
    // padded to 4 bytes from the header's start, the data padded to 4.
    private static void Entry(Stream s, string name, byte[] data)
    {
        var header = new StringBuilder("070701");
        for (int i = 0; i < 13; i++)
        {
            long v = i switch { 6 => data.Length, 11 => name.Length + 1, _ => 0 };
            header.Append(v.ToString("X8", System.Globalization.CultureInfo.InvariantCulture));
        }

        byte[] h = Encoding.ASCII.GetBytes(header.ToString());
        byte[] n = Encoding.ASCII.GetBytes(name + "\0");
        s.Write(h);
        s.Write(n);
        s.Write(new byte[Pad(h.Length + n.Length)]);
        s.Write(data);
        s.Write(new byte[Pad(data.Length)]);
    }

    private static int Pad(int n) => (4 - (n % 4)) % 4;
}
