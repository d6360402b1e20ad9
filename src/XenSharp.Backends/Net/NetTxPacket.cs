using XenSharp.Abi;

namespace XenSharp.Backends.Net;

/// <summary>
/// One tx packet as parsed from the ring: its slots in ring order (the first request, its extra info slots, its
/// fragments), the length of data in the first slot, the GSO request and offload flags, and the response status so far.
/// </summary>
internal sealed class NetTxPacket
{
    public List<NetTxSlot> Slots { get; } = new();

    /// <summary>The packet's size (the first request's size field).</summary>
    public int Size { get; set; }

    /// <summary>Bytes in the first slot (the first size minus the fragments').</summary>
    public int FirstData { get; set; }

    public short Status { get; set; } = NetifLayout.RspOkay;

    /// <summary>Why the packet is answered NETIF_RSP_ERROR (for the log), when it is.</summary>
    public string? Error { get; set; }

    public NetOffload Offload { get; set; }

    public byte GsoType { get; set; }

    public ushort GsoSize { get; set; }

    public byte[]? Frame { get; set; }

    /// <summary>A multicast add/del request (a dummy packet carrying a control slot): answered, never forwarded.</summary>
    public bool IsControl { get; set; }

    public void Fail(string why)
    {
        if (Status == NetifLayout.RspOkay)
        {
            Status = NetifLayout.RspError;
            Error = why;
        }
    }
}
