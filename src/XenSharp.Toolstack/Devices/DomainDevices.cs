using XenSharp.Backends.Block;

namespace XenSharp.Toolstack.Devices;

/// <summary>Domain 0's backends for one domain's virtual devices; disposing them disconnects each (rings unmapped, images closed).</summary>
public sealed class DomainDevices : IDisposable
{
    private readonly List<BlockBackend> _disks = new();

    /// <summary>One blkback per `disk=` entry, in config order.</summary>
    public IReadOnlyList<BlockBackend> Disks => _disks;

    internal void Add(BlockBackend disk) => _disks.Add(disk);

    public void Dispose()
    {
        foreach (BlockBackend disk in _disks)
        {
            disk.Dispose();
        }

        _disks.Clear();
    }
}
