using XenSharp.Backends.Block;
using XenSharp.Backends.Net;

namespace XenSharp.Toolstack.Devices;

/// <summary>Domain 0's backends for one domain's virtual devices; disposing them disconnects each (rings unmapped, images closed, VIFs off the VFR).</summary>
public sealed class DomainDevices : IDisposable
{
    private readonly List<BlockBackend> _disks = new();
    private readonly List<VifBackend> _vifs = new();

    /// <summary>One blkback per `disk=` entry, in config order.</summary>
    public IReadOnlyList<BlockBackend> Disks => _disks;

    /// <summary>One netback per `vif=` entry, in config order.</summary>
    public IReadOnlyList<VifBackend> Vifs => _vifs;

    internal void Add(BlockBackend disk) => _disks.Add(disk);

    internal void Add(VifBackend vif) => _vifs.Add(vif);

    public void Dispose()
    {
        foreach (BlockBackend disk in _disks)
        {
            disk.Dispose();
        }

        _disks.Clear();
        foreach (VifBackend vif in _vifs)
        {
            vif.Dispose();
        }

        _vifs.Clear();
    }
}
