using XenSharp.Backends.Block;
using XenSharp.Backends.Net;
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
/// build with one line naming the config and the entry; what was attached before it is disposed. Then, for each vif,
/// its MAC (the config's, or a random 00:16:3e one as libxl makes it), its nodes (<see cref="XlStoreNodes.WriteVif"/>)
/// and its netback's xenbus side (<see cref="VifBackend"/>), which connects the guest's netfront to the host's VFR with
/// the VIF's `vfr_rules` entries, in file order, as its port's rules.
/// </summary>
public static class DeviceSetup
{
    /// <param name="vfr">The host's virtual firewall-router, shared by every domain's VIFs; null: one of the domain's own.</param>
    public static DomainDevices Attach(XenHypervisor hypervisor, XenStore store, XsClient dom0, ushort domid, DomainConfig config, Vfr? vfr = null)
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

            foreach (VifSpec vif in config.Vifs)
            {
                XsError e = XlStoreNodes.WriteVif(dom0, domid, vif, vif.Mac ?? VifMac.Generate());
                if (e != XsError.None)
                {
                    throw new DomainBuildException($"{config.Name}: cannot write the xenstore nodes of vif {vif.DeviceId}: {e}");
                }

                vfr ??= new Vfr();
                VfrRule[] rules = config.VfrRules.Where(r => r.DeviceId == vif.DeviceId).Select(r => r.Rule).ToArray();
                devices.Add(VifBackend.Attach(hypervisor, store, XlStoreNodes.VifBackendPath(domid, vif.DeviceId), vfr, rules));
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
