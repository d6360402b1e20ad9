using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace XenSharp.Toolstack.Daemon;

/// <summary>
/// The daemon's control protocol on the wire (docs/toolstack.md): each message is a 4-byte big-endian length and that
/// many bytes of UTF-8 JSON, one object. Invariant: a frame is never longer than <see cref="MaxBytes"/>; a longer
/// length, or an end of stream inside a frame, is a <see cref="ControlProtocolException"/> and nothing more is read.
/// </summary>
public static class ControlFrame
{
    /// <summary>The largest frame either side sends or accepts: 1 MiB (a config file is at most that too).</summary>
    public const int MaxBytes = 1 << 20;

    /// <summary>The next frame's bytes; null when the stream ends cleanly between frames.</summary>
    public static async Task<byte[]?> ReadAsync(Stream stream, CancellationToken cancel = default)
    {
        byte[] header = new byte[4];
        int got = await stream.ReadAtLeastAsync(header, 4, throwOnEndOfStream: false, cancel);
        if (got == 0)
        {
            return null;
        }

        if (got < 4)
        {
            throw new ControlProtocolException("the connection ended inside a frame's length");
        }

        uint length = BinaryPrimitives.ReadUInt32BigEndian(header);
        if (length > MaxBytes)
        {
            throw new ControlProtocolException($"a frame of {length} bytes is larger than {MaxBytes}");
        }

        byte[] body = new byte[length];
        if (await stream.ReadAtLeastAsync(body, (int)length, throwOnEndOfStream: false, cancel) < length)
        {
            throw new ControlProtocolException($"the connection ended inside a frame of {length} bytes");
        }

        return body;
    }

    /// <summary>Sends one JSON object as a frame.</summary>
    public static async Task WriteAsync(Stream stream, JsonNode message, CancellationToken cancel = default)
    {
        byte[] body = Encoding.UTF8.GetBytes(message.ToJsonString(JsonOptions));
        if (body.Length > MaxBytes)
        {
            throw new ControlProtocolException($"a reply of {body.Length} bytes is larger than {MaxBytes}");
        }

        byte[] frame = new byte[4 + body.Length];
        BinaryPrimitives.WriteUInt32BigEndian(frame, (uint)body.Length);
        body.CopyTo(frame, 4);
        await stream.WriteAsync(frame, cancel);
        await stream.FlushAsync(cancel);
    }

    /// <summary>A frame's JSON object; a <see cref="JsonException"/> when it is not one.</summary>
    public static JsonObject Parse(byte[] frame) =>
        JsonNode.Parse(frame) as JsonObject ?? throw new JsonException("the request is not a JSON object");

    private static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = false };
}
