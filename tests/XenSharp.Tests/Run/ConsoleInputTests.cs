using System.Text;
using XenSharp.Toolstack.Run;
using Xunit;

namespace XenSharp.Tests.Run;

public class ConsoleInputTests
{
    private static byte[] ReadAll(ConsoleInput input, int expected)
    {
        var got = new List<byte>();
        Span<byte> chunk = stackalloc byte[1000];
        DateTime end = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (got.Count < expected && DateTime.UtcNow < end)
        {
            int n = input.Read(chunk);
            got.AddRange(chunk[..n].ToArray());
            if (n == 0)
            {
                Thread.Sleep(1);
            }
        }

        return got.ToArray();
    }

    [Fact]
    public void TypedBytesComeOutInOrderAndNothingWhenThereIsNone()
    {
        using var input = new ConsoleInput(new MemoryStream(Encoding.ASCII.GetBytes("ls -l\n")));
        Assert.Equal("ls -l\n", Encoding.ASCII.GetString(ReadAll(input, 6)));
        Assert.Equal(0, input.Read(new byte[16]));
    }

    [Fact]
    public void MoreThanTheBufferHoldsWaitsForTheGuestAndLosesNothing()
    {
        byte[] data = new byte[ConsoleInput.Capacity * 3 + 17];
        new Random(7).NextBytes(data);
        using var input = new ConsoleInput(new MemoryStream(data));
        Assert.Equal(data, ReadAll(input, data.Length));
    }

    [Fact]
    public void AClosedInputIsJustTheEnd()
    {
        using var input = new ConsoleInput(Stream.Null);
        Thread.Sleep(20);
        Assert.Equal(0, input.Read(new byte[16]));
    }

    /// <summary>
    /// A pipe whose reader the input thread is blocked on closes once its writer is closed first (the thread reads EOF
    /// and lets go); PauseTests relies on this order (closing the reader first waits for that read forever).
    /// </summary>
    [Fact]
    public async Task AnonymousPipe_ClosingTheWriterFirstEndsTheInputThreadAndLetsTheReaderClose()
    {
        var typed = new System.IO.Pipes.AnonymousPipeServerStream(System.IO.Pipes.PipeDirection.Out);
        var reader = new System.IO.Pipes.AnonymousPipeClientStream(System.IO.Pipes.PipeDirection.In, typed.ClientSafePipeHandle);
        using var input = new ConsoleInput(reader);
        typed.Write("x"u8);
        typed.Flush();
        typed.Dispose();
        await Task.Run(reader.Dispose).WaitAsync(TimeSpan.FromSeconds(60)); // a hang guard, not a timing assertion
    }
}
