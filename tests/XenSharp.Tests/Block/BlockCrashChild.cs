using System.Globalization;
using static XenSharp.Abi.BlkifLayout;
using static XenSharp.Tests.Block.FakeBlockFrontend;

namespace XenSharp.Tests.Block;

/// <summary>
/// The crash test's child process: the real <see cref="Backends.Block.BlockBackend"/> over a fake frontend in
/// in-process guest memory, serving an image the test prepared, fed <see cref="BlockCrashStream"/> one request at a
/// time. Invariant: a line goes to stdout (one write each, "W n" or "F n") only after the backend's response to that
/// request said OKAY, so every line the test reads is an acknowledgement; a request the child sent but had no answer
/// for yet is never printed. It runs until killed; its stdin closing (the test gone) ends it too.
/// </summary>
internal static class BlockCrashChild
{
    public const string Verb = "block-crash-child";

    private const int MaxOps = 1_000_000; // a bound even if both the kill and stdin's end never came

    /// <summary>Arguments: the image, flush every N writes, persistent grants (1/0). Exit 2 on a response not OKAY.</summary>
    public static int Run(string[] args)
    {
        var stdinWatch = new Thread(() =>
        {
            System.Console.In.ReadToEnd();
            Environment.Exit(3);
        })
        { IsBackground = true };
        stdinWatch.Start();

        int flushEvery = int.Parse(args[1], CultureInfo.InvariantCulture);
        using var f = new FakeBlockFrontend(imagePath: args[0]);
        f.Connect(persistent: args[2] == "1");
        var stream = new BlockCrashStream((int)(f.Backend_.Image.Sectors / BlockCrashStream.SectorsPerBlock), flushEvery);
        foreach (CrashOp op in stream.Ops().Take(MaxOps))
        {
            byte[] request;
            if (op.IsFlush)
            {
                request = Request(OpFlushDiskCache, (ulong)op.Number, 0);
            }
            else
            {
                var segments = new (uint, byte, byte)[op.Count];
                for (int i = 0; i < op.Count; i++)
                {
                    BlockCrashStream.Fill(f.DataPage(i)[..BlockCrashStream.BlockSize], op.Start + i, op.Id);
                    segments[i] = (FirstDataRef + (uint)i, 0, 7);
                }

                request = Request(OpWrite, (ulong)op.Number, (ulong)op.Start * BlockCrashStream.SectorsPerBlock, segments);
            }

            (ulong id, byte _, short status) = f.Submit(request).Single();
            if (status != RspOkay || id != (ulong)op.Number)
            {
                System.Console.Error.WriteLine($"{op.Line}: response id {id} status {status}");
                return 2;
            }

            System.Console.Out.Write(op.Line + "\n"); // one write(2): the test never reads half an acknowledgement
        }

        return 0;
    }
}
