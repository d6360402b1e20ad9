namespace XenSharp.Abi;

/// <summary>NETTXF_*: the flags of a netif tx request (io/netif.h).</summary>
public static class NetTxFlags
{
    /// <summary>The protocol checksum field is blank (the sender offloads it).</summary>
    public const ushort CsumBlank = 1 << 0;

    /// <summary>The data has been validated against its protocol checksum.</summary>
    public const ushort DataValidated = 1 << 1;

    /// <summary>The packet continues in the next request.</summary>
    public const ushort MoreData = 1 << 2;

    /// <summary>Extra info slot(s) follow this request.</summary>
    public const ushort ExtraInfo = 1 << 3;
}
