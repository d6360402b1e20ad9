using XenSharp.Backends.Net;
using XenSharp.Backends.Xenstore;
using XenSharp.Hypervisor;
using XenSharp.Toolstack.Builder;
using XenSharp.Toolstack.Config;

namespace XenSharp.Toolstack.Devices;

/// <summary>
/// What libxl does for a new domain's devices, before it runs: each disk, then each vif, attached as a hot-plugged one
/// is (<see cref="DomainDevices.AttachDisk"/>, <see cref="DomainDevices.AttachVif"/>: nodes in one transaction, a
/// backend on its own loop waiting in InitWait for the guest's frontend); a VIF's port on the VFR gets the config's
/// `vfr_rules` entries for its devid, in file order. A device that cannot be attached fails the
/// build with one line naming the config and the entry; what was attached before it is torn down.
/// </summary>
public static class DeviceSetup
{
    /// <param name="vfr">The host's virtual firewall-router, shared by every domain's VIFs; null: one of the domain's own.</param>
    public static DomainDevices Attach(XenHypervisor hypervisor, XenStore store, XsClient dom0, ushort domid, DomainConfig config, Vfr? vfr = null)
    {
        var devices = new DomainDevices(hypervisor, store, dom0, domid, vfr);
        string file = config.SourcePath.Length > 0 ? config.SourcePath : config.Name;
        try
        {
            foreach (DiskSpec disk in config.Disks)
            {
                devices.AttachDisk(disk, $"{file}:{disk.Line}: disk {ConfigText.SingleQuoted(disk.Entry)}");
            }

            foreach (VifSpec vif in config.Vifs)
            {
                VfrRule[] rules = config.VfrRules.Where(r => r.DeviceId == vif.DeviceId).Select(r => r.Rule).ToArray();
                devices.AttachVif(vif, $"{file}:{vif.Line}: vif {ConfigText.SingleQuoted(vif.Entry)}", rules);
            }

            return devices;
        }
        catch (DeviceException e)
        {
            devices.Dispose();
            throw new DomainBuildException(e.Message);
        }
        catch
        {
            devices.Dispose();
            throw;
        }
    }
}
