namespace XenSharp.Abi;

/// <summary>NETRXF_*: the flags of a netif rx response (io/netif.h).</summary>
public static class NetRxFlags
{
    public const ushort DataValidated = 1 << 0;
    public const ushort CsumBlank = 1 << 1;
    public const ushort MoreData = 1 << 2;
    public const ushort ExtraInfo = 1 << 3;
    public const ushort GsoPrefix = 1 << 4;
}
