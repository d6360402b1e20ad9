using System.Diagnostics;
using System.Globalization;
using XenSharp.IntegrationTests.Support;
using Xunit;
using Xunit.Abstractions;

namespace XenSharp.Tests.Block;

/// <summary>
/// A host-process crash in the middle of a write stream loses nothing that was acknowledged after a flush. A child
/// process (<see cref="BlockCrashChild"/>) runs the real blkback over a fake frontend and writes
/// <see cref="BlockCrashStream"/> to an image prepared here, printing each acknowledgement; the test SIGKILLs it once
/// it has read N acknowledged flushes (the child is wherever it is by then: the kill point is counted, not timed, and
/// the test does not choose the request it lands in), reads the rest of what the child printed, and checks every
/// block of the image:
/// <list type="bullet">
/// <item>each is exactly one write's data or the prefill's, never garbage: no torn 4 KiB block, no block of two writes;</item>
/// <item>a block written by a write acknowledged before the last acknowledged flush holds that write or a later one
/// (later writes overwrite blocks when the stream wraps), never older data: nothing flushed was lost;</item>
/// <item>what the process kill itself allows, and no more: every block holds the last acknowledged write to it, or the
/// write of the one request in flight at the kill, whose 4 KiB blocks may each be old or new.</item>
/// </list>
/// A process kill, not a power cut: the page cache survives it (docs/devices.md, blkback, Durability).
/// </summary>
public sealed class BlockCrashTests(ITestOutputHelper output)
{
    private const int Slots = 1024; // a 4 MiB image

    [Theory]
    [InlineData(1, 3, false)]
    [InlineData(4, 11, true)]
    [InlineData(7, 26, false)]
    [InlineData(16, 7, true)]
    [InlineData(3, 60, true)]
    [InlineData(32, 12, false)] // about 1700 blocks: the stream wraps, so old data is the stream's own too
    public void AKilledBackendKeepsEveryWriteAcknowledgedBeforeTheLastFlush(int flushEvery, int killAfterFlushes, bool persistent)
    {
        DirectoryInfo dir = Directory.CreateTempSubdirectory("xensharp-blkcrash-");
        try
        {
            string image = Path.Combine(dir.FullName, "disk.img");
            Prefill(image);
            (List<string> acked, int killedAt) = RunAndKill(image, flushEvery, killAfterFlushes, persistent);
            Check(image, new BlockCrashStream(Slots, flushEvery), acked, killedAt);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    private static void Prefill(string image)
    {
        var bytes = new byte[Slots * BlockCrashStream.BlockSize];
        for (int s = 0; s < Slots; s++)
        {
            BlockCrashStream.Fill(bytes.AsSpan(s * BlockCrashStream.BlockSize, BlockCrashStream.BlockSize), s, 0);
        }

        File.WriteAllBytes(image, bytes);
    }

    // The child's acknowledgements, all of them (those read before the kill and those still in the pipe), and how many
    // were read when it was killed.
    private (List<string> Acked, int KilledAt) RunAndKill(string image, int flushEvery, int killAfterFlushes, bool persistent)
    {
        string host = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } h && File.Exists(h) ? h : "dotnet";
        var psi = new ProcessStartInfo(host)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true, // kept open: its end tells the child the test is gone
            UseShellExecute = false,
        };
        foreach (string a in new[] { typeof(BlockCrashTests).Assembly.Location, BlockCrashChild.Verb, image, flushEvery.ToString(CultureInfo.InvariantCulture), persistent ? "1" : "0" })
        {
            psi.ArgumentList.Add(a);
        }

        using Process child = Process.Start(psi)!;
        Task<string> stderr = child.StandardError.ReadToEndAsync();
        var acked = new List<string>();
        Task<bool> reading = Task.Run(() =>
        {
            int flushes = 0;
            while (flushes < killAfterFlushes && child.StandardOutput.ReadLine() is { } line)
            {
                acked.Add(line);
                flushes += line.StartsWith('F') ? 1 : 0;
            }

            return flushes == killAfterFlushes;
        });

        bool finished = reading.Wait(Limits.Generous); // a guard against a hang, not a timed assertion
        child.Kill(); // SIGKILL
        child.WaitForExit();
        if (!finished)
        {
            throw new TimeoutException($"the child did not acknowledge {killAfterFlushes} flushes within {Limits.Describe(Limits.Generous)} (it acknowledged {acked.Count} requests)");
        }

        Assert.True(reading.Result, $"the child ended after {acked.Count} acknowledgements, before it was killed (exit {child.ExitCode}): {stderr.Result}");
        Assert.True(child.ExitCode == 128 + 9, $"the child was not killed by SIGKILL: exit {child.ExitCode}: {stderr.Result}");
        int killedAt = acked.Count;

        // What the child printed before it died and the test had not read yet: acknowledged too. A line cut short
        // (no newline) was never written: the child writes each in one write(2).
        string rest = child.StandardOutput.ReadToEnd();
        string[] lines = rest.Split('\n');
        acked.AddRange(lines[..^1]);
        Assert.Equal("", lines[^1]);
        return (acked, killedAt);
    }

    private void Check(string image, BlockCrashStream stream, List<string> acked, int killedAt)
    {
        List<CrashOp> ops = stream.Ops().Take(acked.Count + 1).ToList();
        Assert.Equal(ops.Take(acked.Count).Select(o => o.Line), acked); // the child's acknowledgements, in the stream's order
        int lastFlush = acked.FindLastIndex(l => l.StartsWith('F'));
        CrashOp inFlight = ops[^1]; // sent, maybe carried out in part or whole, not acknowledged

        var flushed = new long[Slots]; // the last write to each block acknowledged before the last acknowledged flush
        var last = new long[Slots]; // the last acknowledged write to each block
        for (int i = 0; i < acked.Count; i++)
        {
            CrashOp op = ops[i];
            for (int s = op.Start; s < op.Start + op.Count; s++)
            {
                last[s] = op.Id;
                flushed[s] = i < lastFlush ? op.Id : flushed[s];
            }
        }

        byte[] bytes = File.ReadAllBytes(image);
        Assert.Equal(Slots * BlockCrashStream.BlockSize, bytes.Length);
        int newInFlight = 0, oldInFlight = 0, keptFlushed = 0;
        for (int s = 0; s < Slots; s++)
        {
            long? id = BlockCrashStream.Identify(bytes.AsSpan(s * BlockCrashStream.BlockSize, BlockCrashStream.BlockSize), s);
            Assert.True(id is not null, $"block {s} is garbage (torn, mixed or misplaced): it begins {Convert.ToHexString(bytes, s * BlockCrashStream.BlockSize, 16)}");
            Assert.True(id >= flushed[s], $"block {s} holds write {id}, older than write {flushed[s]}, acknowledged before the last acknowledged flush");
            bool inFlightHere = inFlight.Covers(s);
            Assert.True(id == last[s] || (inFlightHere && id == inFlight.Id), $"block {s} holds write {id}: neither its last acknowledged write {last[s]} nor the request in flight ({inFlight.Line})");
            newInFlight += inFlightHere && id == inFlight.Id ? 1 : 0;
            oldInFlight += inFlightHere && id != inFlight.Id ? 1 : 0;
            keptFlushed += flushed[s] > 0 ? 1 : 0;
        }

        output.WriteLine(
            $"flush every {stream.FlushEvery}: killed after reading {killedAt} acknowledgements; {acked.Count} in all " +
            $"({acked.Count(l => l.StartsWith('F'))} flushes, the last at {lastFlush}); in flight {inFlight.Line} " +
            $"({newInFlight} of its blocks new, {oldInFlight} old); {keptFlushed} blocks covered by a flush, all intact");
    }
}
