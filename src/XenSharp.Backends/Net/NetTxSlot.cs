namespace XenSharp.Backends.Net;

/// <summary>One tx ring slot as read once from the shared page (the guest may rewrite the page at any time).</summary>
internal readonly record struct NetTxSlot(uint Gref, ushort Offset, ushort Flags, ushort Id, ushort Size, bool IsExtra);
