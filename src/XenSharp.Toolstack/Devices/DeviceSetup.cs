using XenSharp.Backends.Block;
using XenSharp.Backends.Xenstore;
using XenSharp.Hypervisor;
using XenSharp.Toolstack.Builder;
using XenSharp.Toolstack.Config;
using XenSharp.Toolstack.Store;

namespace XenSharp.Toolstack.Devices;

/// <summary>
/// What libxl does for a new domain's devices, before it runs: for each disk, open its image (read-only and shared,
/// or read-write and exclusive), write the frontend and backend nodes (<see cref="XlStoreNodes.WriteDisk"/>) and start
/// its blkback, which goes to InitWait and waits for the guest's blkfront. A disk that cannot be opened fails the
/// build with one line naming the config and the entry; what was attached before it is disposed.
/// </summary>
public static class DeviceSetup
{
    public static DomainDevices Attach(XenHypervisor hypervisor, XenStore store, XsClient dom0, ushort domid, DomainConfig config)
    {
        var devices = new DomainDevices();
        try
        {
            foreach (DiskSpec disk in config.Disks)
            {
                BlockImage image = Open(config, disk);
                try
                {
                    XsError e = XlStoreNodes.WriteDisk(dom0, domid, disk);
                    if (e != XsError.None)
                    {
                        throw new DomainBuildException($"{config.Name}: cannot write the xenstore nodes of disk {disk.Vdev}: {e}");
                    }

                    devices.Add(BlockBackend.Attach(hypervisor, store, XlStoreNodes.DiskBackendPath(domid, disk.DeviceNumber), image, disk.Discard));
                }
                catch
                {
                    image.Dispose();
                    throw;
                }
            }

            return devices;
        }
        catch
        {
            devices.Dispose();
            throw;
        }
    }

    private static BlockImage Open(DomainConfig config, DiskSpec disk)
    {
        string where = $"{(config.SourcePath.Length > 0 ? config.SourcePath : config.Name)}:{disk.Line}: disk '{disk.Entry}'";
        BlockImage image;
        try
        {
            image = BlockImage.Open(disk.Target, disk.ReadOnly);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DomainBuildException($"{where}: cannot open {disk.Target}{(disk.ReadOnly ? "" : " for writing")}: {e.Message}");
        }

        if (image.Sectors == 0)
        {
            image.Dispose();
            throw new DomainBuildException($"{where}: {disk.Target} is empty (a disk needs at least one 512-byte sector)");
        }

        return image;
    }
}
