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
}
