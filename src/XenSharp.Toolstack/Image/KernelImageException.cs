namespace XenSharp.Toolstack.Image;

/// <summary>
/// The kernel image is missing, unreadable, malformed, or not a 64-bit Xen PV kernel.
/// The message is one line and starts with the image's name, so it can be shown as is.
/// </summary>
public sealed class KernelImageException : Exception
{
    public KernelImageException(string message)
        : base(message)
    {
    }

    public KernelImageException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    internal static KernelImageException For(string name, string detail) => new($"{name}: {detail}");
}
