using System.Text.Json.Nodes;
using XenSharp.Hypervisor.Dom0;
using XenSharp.Hypervisor.Scheduling;
using XenSharp.Toolstack.Config;

namespace XenSharp.Toolstack.Daemon;

/// <summary>
/// A domain in the control protocol's `list` reply: libxl_dominfo's fields (what xl list prints) and, for list -l,
/// the domain's config in libxl_domain_config's JSON shape (c_info, b_info, on_*), as xl list -l gives it.
/// </summary>
public static class DomainJson
{
    public static JsonObject Info(DomainInfo info, IReadOnlyList<VcpuInfo> vcpus, bool paused, bool dying, DomainConfig config) => new()
    {
        ["domid"] = info.Id,
        ["name"] = config.Name, // the toolstack's name (the store's, which rename changes), not the build's
        ["uuid"] = info.Handle.ToString("D"),
        ["current_memkb"] = info.CurrentPages * 4,
        ["max_memkb"] = info.MaxPages * 4,
        ["target_memkb"] = info.TargetPages * 4,
        ["vcpu_max_id"] = vcpus.Count - 1,
        ["vcpu_online"] = vcpus.Count(v => v.Online),
        ["running"] = vcpus.Any(v => v.Runstate == Abi.RunstateLayout.Running),
        ["blocked"] = vcpus.Any(v => v.Online) && vcpus.Where(v => v.Online).All(v => v.Runstate == Abi.RunstateLayout.Blocked),
        ["paused"] = paused,
        ["shutdown"] = info.State is Hypervisor.Domains.DomainState.Shutdown or Hypervisor.Domains.DomainState.Crashed,
        ["shutdown_reason"] = info.ShutdownReason is { } r ? (int)r : 0,
        ["dying"] = dying,
        ["cpu_time"] = info.CpuTimeNs,
        ["config"] = Config(config, info),
    };

    /// <summary>The domain's device figures for top (xenstat's networks and vbds, summed): counts, bytes, requests, sectors.</summary>
    public static JsonObject Devices(Devices.DeviceStatistics s) => new()
    {
        ["nets"] = s.Nets,
        ["net_tx_bytes"] = s.NetTxBytes,
        ["net_rx_bytes"] = s.NetRxBytes,
        ["vbds"] = s.Vbds,
        ["vbd_oo"] = s.VbdOutOfRequests,
        ["vbd_rd"] = s.VbdReads,
        ["vbd_wr"] = s.VbdWrites,
        ["vbd_rsect"] = s.VbdReadSectors,
        ["vbd_wsect"] = s.VbdWriteSectors,
    };

    /// <summary>libxl_domain_config as JSON, the fields XenSharp has.</summary>
    public static JsonObject Config(DomainConfig c, DomainInfo? info)
    {
        var pv = new JsonObject { ["kernel"] = c.Kernel, ["cmdline"] = c.CommandLine };
        if (c.Ramdisk is { } ramdisk)
        {
            pv["ramdisk"] = ramdisk;
        }

        var sched = new JsonObject { ["sched"] = "bvt" };
        if (c.Scheduling is BvtParameters b)
        {
            sched["mcuadv"] = b.McuAdvance / BvtParameters.Unit;
            sched["warpback"] = b.WarpBack;
            sched["warpvalue"] = b.WarpValue / BvtParameters.Unit;
            sched["warpl"] = b.WarpLimitNs / 1_000_000;
            sched["warpu"] = b.UnwarpRequirementNs / 1_000_000;
        }

        var cinfo = new JsonObject { ["type"] = c.Type, ["name"] = c.Name };
        if (info is not null)
        {
            cinfo["uuid"] = info.Handle.ToString("D");
        }

        return new JsonObject
        {
            ["c_info"] = cinfo,
            ["b_info"] = new JsonObject
            {
                ["max_vcpus"] = c.Vcpus,
                ["avail_vcpus"] = new JsonArray([.. Enumerable.Range(0, c.Vcpus).Select(i => (JsonNode)i)]),
                ["max_memkb"] = (long)c.MaxMemoryMiB * 1024,
                ["target_memkb"] = (long)c.MemoryMiB * 1024,
                ["sched_params"] = sched,
                ["type.pv"] = pv,
            },
            ["on_poweroff"] = ActionNames.Of(c.OnPoweroff),
            ["on_reboot"] = ActionNames.Of(c.OnReboot),
            ["on_crash"] = ActionNames.Of(c.OnCrash),
        };
    }
}
