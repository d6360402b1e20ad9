using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using XenSharp.Toolstack.Daemon;
using Xunit;

namespace XenSharp.Tests.Daemon;

/// <summary>The control protocol's framing: a 4-byte big-endian length and that much JSON; too long or cut short is refused.</summary>
public sealed class ControlFrameTests
{
    [Fact]
    public async Task AFrameRoundTrips()
    {
        var stream = new MemoryStream();
        await ControlFrame.WriteAsync(stream, new JsonObject { ["verb"] = "list" });
        byte[] bytes = stream.ToArray();
        Assert.Equal((uint)(bytes.Length - 4), BinaryPrimitives.ReadUInt32BigEndian(bytes));
        stream.Position = 0;
        byte[]? frame = await ControlFrame.ReadAsync(stream);
        Assert.Equal("list", ControlFrame.Parse(frame!)["verb"]!.GetValue<string>());
        Assert.Null(await ControlFrame.ReadAsync(stream)); // a clean end between frames
    }

    [Fact]
    public async Task ALengthAboveTheLimitIsRefusedWithoutReadingIt()
    {
        byte[] header = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(header, ControlFrame.MaxBytes + 1);
        var e = await Assert.ThrowsAsync<ControlProtocolException>(() => ControlFrame.ReadAsync(new MemoryStream(header)));
        Assert.Contains("larger than", e.Message);
    }

    [Theory]
    [InlineData(new byte[] { 0, 0 })]
    [InlineData(new byte[] { 0, 0, 0, 10, (byte)'{' })]
    public async Task AnEndInsideAFrameIsAProtocolError(byte[] bytes)
    {
        await Assert.ThrowsAsync<ControlProtocolException>(() => ControlFrame.ReadAsync(new MemoryStream(bytes)));
    }

    [Theory]
    [InlineData("not json")]
    [InlineData("[1, 2]")]
    [InlineData("\"verb\"")]
    public void ABodyThatIsNotAJsonObjectIsAJsonException(string body)
    {
        Assert.ThrowsAny<JsonException>(() => ControlFrame.Parse(Encoding.UTF8.GetBytes(body)));
    }
}
