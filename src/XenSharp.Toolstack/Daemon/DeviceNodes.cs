using System.Globalization;
using System.Text.Json.Nodes;
using XenSharp.Backends.Xenstore;
using XenSharp.Toolstack.Store;

namespace XenSharp.Toolstack.Daemon;

/// <summary>
/// A domain's disks and network interfaces as xl block-list and network-list show them, read from the frontend
/// directories device/vbd/N and device/vif/N as libxl_device_disk_getinfo and libxl_device_nic_getinfo read them.
/// Invariant: a node the store does not hold (a frontend that has not connected yet) reads as -1, as libxl's do.
/// </summary>
public static class DeviceNodes
{
    /// <summary>The devices of <paramref name="kind"/> (vbd, vif) under the domain's device directory, in devid order.</summary>
    public static IEnumerable<JsonObject> List(XsClient dom0, ushort domid, string kind, Func<XsClient, ushort, string, JsonObject> read)
    {
        string dir = $"{XlStoreNodes.DomainPath(domid)}/device/{kind}";
        foreach (string devid in (dom0.Directory(dir) ?? []).Where(d => int.TryParse(d, NumberStyles.None, CultureInfo.InvariantCulture, out _))
                     .OrderBy(d => int.Parse(d, CultureInfo.InvariantCulture)))
        {
            JsonObject device = read(dom0, domid, $"{dir}/{devid}");
            device["devid"] = int.Parse(devid, CultureInfo.InvariantCulture);
            yield return device;
        }
    }

    /// <summary>libxl_diskinfo: backend id, frontend (the domain) id, state, event channel, ring-ref, backend path.</summary>
    public static JsonObject Disk(XsClient dom0, ushort domid, string front) => new()
    {
        ["backend_id"] = Number(dom0, $"{front}/backend-id"),
        ["frontend_id"] = domid,
        ["state"] = Number(dom0, $"{front}/state"),
        ["evtch"] = Number(dom0, $"{front}/event-channel"),
        ["rref"] = Number(dom0, $"{front}/ring-ref"),
        ["backend"] = dom0.Read($"{front}/backend") ?? "",
    };

    /// <summary>libxl_nicinfo and the nic's mac: backend id, state, event channel, tx and rx ring-refs, backend path.</summary>
    public static JsonObject Nic(XsClient dom0, ushort domid, string front) => new()
    {
        ["backend_id"] = Number(dom0, $"{front}/backend-id"),
        ["mac"] = dom0.Read($"{front}/mac") ?? "00:00:00:00:00:00",
        ["state"] = Number(dom0, $"{front}/state"),
        ["evtch"] = Number(dom0, $"{front}/event-channel"),
        ["rref_tx"] = Number(dom0, $"{front}/tx-ring-ref"),
        ["rref_rx"] = Number(dom0, $"{front}/rx-ring-ref"),
        ["backend"] = dom0.Read($"{front}/backend") ?? "",
    };

    private static long Number(XsClient dom0, string path) =>
        long.TryParse(dom0.Read(path), NumberStyles.None, CultureInfo.InvariantCulture, out long n) ? n : -1;
}
