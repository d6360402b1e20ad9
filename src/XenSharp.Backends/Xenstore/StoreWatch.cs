namespace XenSharp.Backends.Xenstore;

/// <summary>
/// A watch of one connection: the canonical node (or special name) it watches, its token, a depth limit (-1: none) and,
/// for a watch set with a relative path, how much of an event path to cut so the event is relative too.
/// </summary>
internal sealed record StoreWatch(string Node, string Token, int Depth, int PrefixLength)
{
    public string EventPath(string name) => PrefixLength > 0 && PrefixLength <= name.Length ? name[PrefixLength..] : name;
}
