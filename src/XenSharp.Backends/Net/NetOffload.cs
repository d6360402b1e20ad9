namespace XenSharp.Backends.Net;

/// <summary>What a packet's sender says about its checksum (netif's csum_blank / data_validated, both directions).</summary>
[Flags]
public enum NetOffload
{
    None = 0,

    /// <summary>The TCP/UDP checksum field is blank: whoever leaves the host with it must fill it in.</summary>
    CsumBlank = 1,

    /// <summary>The checksum was validated (or the packet was made on this host): no need to check it again.</summary>
    DataValidated = 2,
}
