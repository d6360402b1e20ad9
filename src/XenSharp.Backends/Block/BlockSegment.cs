namespace XenSharp.Backends.Block;

/// <summary>One segment of a request as the frontend wrote it: a grant and the first and last 512-byte sector within its page.</summary>
internal readonly record struct BlockSegment(uint Gref, byte FirstSector, byte LastSector)
{
    public int Sectors => LastSector - FirstSector + 1;
}
