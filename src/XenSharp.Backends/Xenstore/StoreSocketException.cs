namespace XenSharp.Backends.Xenstore;

/// <summary>The path asked for xenstored's socket cannot be used; the message is one line naming the path.</summary>
public sealed class StoreSocketException(string message, Exception? innerException = null) : Exception(message, innerException);
