namespace XenSharp.Abi;

/// <summary>console_io commands (xen/include/public/xen.h).</summary>
public static class ConsoleIoOp
{
    public const int Write = 0;
    public const int Read = 1;
}
