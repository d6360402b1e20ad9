namespace XenSharp.Backends.Xenstore;

/// <summary>How a change matches watches (xenstored's enum watch_match).</summary>
internal enum WatchMatch
{
    /// <summary>Only a watch on exactly this node (the children of a removed subtree).</summary>
    Exact,

    /// <summary>Watches on the node and every ancestor, within their depth.</summary>
    Subtree,

    /// <summary>Special events with a domain id: a watch on the very name, or a depth watch above it.</summary>
    Depth,

    /// <summary>Special events without a domain id: only watches on the very name without a depth.</summary>
    NoDepth,
}
