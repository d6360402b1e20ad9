namespace XenSharp.Abi;

/// <summary>XEN_NETIF_EXTRA_TYPE_*, XEN_NETIF_EXTRA_FLAG_* and XEN_NETIF_GSO_TYPE_* (io/netif.h).</summary>
public static class NetifExtra
{
    public const byte TypeNone = 0;
    public const byte TypeGso = 1;
    public const byte TypeMcastAdd = 2;
    public const byte TypeMcastDel = 3;
    public const byte TypeHash = 4;
    public const byte TypeXdp = 5;

    /// <summary>XEN_NETIF_EXTRA_TYPE_MAX: types at or above it are invalid.</summary>
    public const byte TypeMax = 6;

    /// <summary>Another extra info slot follows.</summary>
    public const byte FlagMore = 1 << 0;

    public const byte GsoTypeNone = 0;
    public const byte GsoTypeTcpV4 = 1;
    public const byte GsoTypeTcpV6 = 2;
}
