namespace XenSharp.Toolstack.Devices;

/// <summary>
/// A domain's device figures as xentop shows them: network interfaces and the bytes they carried (NETTX, NETRX: what the
/// guest sent and received), block devices and blkback's statistics summed over them (VBD_OO, VBD_RD, VBD_WR,
/// VBD_RSECT, VBD_WSECT).
/// </summary>
public sealed record DeviceStatistics(
    int Nets, long NetTxBytes, long NetRxBytes, int Vbds, long VbdOutOfRequests, long VbdReads, long VbdWrites, long VbdReadSectors, long VbdWriteSectors)
{
    public static DeviceStatistics None { get; } = new(0, 0, 0, 0, 0, 0, 0, 0, 0);
}
