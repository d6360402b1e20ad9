using System.Text.Json.Nodes;

namespace XenSharp.Toolstack.Daemon;

/// <summary>
/// The daemon's answer to one request: the reply object ({"ok": true, ...} or {"ok": false, "error": "..."}), and for
/// `console` what happens on the connection after it (the raw byte stream), which then owns the connection.
/// </summary>
public sealed record ControlReply(JsonObject Body, Func<Stream, CancellationToken, Task>? Then = null)
{
    public static ControlReply Ok(JsonObject? fields = null)
    {
        var body = new JsonObject { ["ok"] = true };
        foreach ((string key, JsonNode? value) in fields ?? [])
        {
            body[key] = value?.DeepClone();
        }

        return new ControlReply(body);
    }

    public static ControlReply Error(string message) => new(new JsonObject { ["ok"] = false, ["error"] = message });
}
