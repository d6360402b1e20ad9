using System.Globalization;
using System.Text.Json.Nodes;
using XenSharp.Toolstack.Config;
using XenSharp.Toolstack.Devices;
using XenSharp.Toolstack.Store;

namespace XenSharp.Toolstack.Daemon;

/// <summary>
/// xl block-attach, block-detach, network-attach and network-detach: devices plugged into and out of a running domain
/// through its <see cref="DomainDevices"/>, as libxl does. A spec is read by the config's own parsers (the same
/// one-line errors, under the name "command line", as xl's); a device added or removed is added to or removed from the
/// domain's config too, so a restart builds it with the same devices (libxl updates the stored config likewise). A
/// vif's `bridge=NAME` opens the host's uplink NAME first, as a build does (<see cref="Run.DomainHost.EnsureUplink"/>);
/// it stays with the host when the vif goes. The wait for a frontend to close happens outside the domain's lock.
/// </summary>
public sealed partial class DaemonToolstack
{
    /// <summary>xl's config source name for specs given as arguments.</summary>
    public const string CommandLine = "command line";

    private ControlReply BlockAttach(ManagedDomain m, JsonObject request)
    {
        string entry = string.Join(',', Specs(request));
        // A relative target is the client's: the parser takes it from the directory of its "config file".
        string source = Path.Combine(Text(request, "cwd") ?? "/", CommandLine);
        string where = $"{CommandLine}: disk {ConfigText.SingleQuoted(entry)}";
        DiskSpec disk;
        try
        {
            disk = DiskSpecParser.Parse(entry, source, 0);
        }
        catch (DeviceSpecException e)
        {
            throw new DaemonException($"{where}: {e.Message}");
        }

        lock (m.Lock)
        {
            Attached(m).AttachDisk(disk, where);
            m.Config = m.Config with { Disks = [.. m.Config.Disks, disk] };
        }

        _hv.Log.Write($"{m.Name}: disk {disk.Vdev} ({disk.DeviceNumber}) attached");
        return ControlReply.Ok(new JsonObject { ["devid"] = disk.DeviceNumber });
    }

    private ControlReply NetworkAttach(ManagedDomain m, JsonObject request)
    {
        string entry = string.Join(',', Specs(request));
        string where = $"{CommandLine}: vif {ConfigText.SingleQuoted(entry)}";
        lock (m.Lock)
        {
            DomainDevices devices = Attached(m);
            VifSpec vif;
            try
            {
                vif = VifSpecParser.Parse(entry, devices.NextVifId(), 0);
            }
            catch (DeviceSpecException e)
            {
                throw new DaemonException($"{where}: {e.Message}");
            }

            vif = vif with { Mac = vif.Mac ?? VifMac.Generate() }; // kept in the config: a restart keeps the address
            _host.EnsureUplink(vif, where); // as a build does: a bridge that cannot be had attaches nothing
            devices.AttachVif(vif, where);
            m.Config = m.Config with { Vifs = [.. m.Config.Vifs, vif] };
            _hv.Log.Write($"{m.Name}: vif {vif.DeviceId} ({VifMac.Format(vif.Mac)}) attached");
            return ControlReply.Ok(new JsonObject { ["devid"] = vif.DeviceId, ["mac"] = VifMac.Format(vif.Mac) });
        }
    }

    /// <summary>xl block-detach VDEV|DEVID [--force]: an unknown device is xl's "Error: Device X not connected."</summary>
    private Task<ControlReply> BlockDetach(ManagedDomain m, JsonObject request)
    {
        string vdev = Text(request, "device") ?? "";
        return Detach(m, DomainDevices.Vbd, request["force"]?.GetValue<bool>() == true, $"Error: Device {vdev} not connected.",
            devices => VirtualDeviceNumber.Parse(vdev) is int n && devices.Has(DomainDevices.Vbd, n) ? n : null);
    }

    /// <summary>xl network-detach DEVID|MAC: an unknown one is xl's "Unknown device X."</summary>
    private Task<ControlReply> NetworkDetach(ManagedDomain m, JsonObject request)
    {
        string device = Text(request, "device") ?? "";
        return Detach(m, DomainDevices.Vif, force: false, $"Unknown device {device}.", devices =>
            device.Contains(':', StringComparison.Ordinal)
                ? Mac(device) is { } mac ? devices.VifWithMac(mac) : null
                : int.TryParse(device, NumberStyles.None, CultureInfo.InvariantCulture, out int n) && devices.Has(DomainDevices.Vif, n) ? n : null);
    }

    /// <summary>Finds the device under the domain's lock (<paramref name="unknown"/> when there is none), detaches it outside it, and drops it from the config.</summary>
    private async Task<ControlReply> Detach(ManagedDomain m, string kind, bool force, string unknown, Func<DomainDevices, int?> find)
    {
        DomainDevices devices;
        int devid;
        lock (m.Lock)
        {
            devices = Attached(m);
            devid = find(devices) ?? throw new DaemonException(unknown);
        }

        bool closed = await devices.DetachAsync(kind, devid, force, _settings.DetachTimeout); // a DeviceException is the reply's one line

        lock (m.Lock)
        {
            m.Config = kind == DomainDevices.Vbd
                ? m.Config with { Disks = [.. m.Config.Disks.Where(d => d.DeviceNumber != devid)] }
                : m.Config with { Vifs = [.. m.Config.Vifs.Where(v => v.DeviceId != devid)] };
        }

        _hv.Log.Write(closed
            ? $"{m.Name}: {kind} {devid} detached"
            : $"{m.Name}: {kind} {devid}: the frontend did not close within {_settings.DetachTimeout.TotalSeconds.ToString(CultureInfo.InvariantCulture)} s; removed anyway (forced, as libxl after its timeout)");
        return ControlReply.Ok();
    }

    /// <summary>The current instance's devices; a domain on its way out is xl's invalid identifier. Under m.Lock.</summary>
    private static DomainDevices Attached(ManagedDomain m) =>
        !m.Dying && m.Backends?.Devices is { } devices
            ? devices
            : throw new DaemonException($"{m.Name} is an invalid domain identifier (rc={ErrorInval})");

    private static IEnumerable<string> Specs(JsonObject request) =>
        (request["specs"] as JsonArray ?? []).Select(n => n?.GetValue<string>() ?? "");

    // Six hex octets (libxl__parse_mac); null when it is not one.
    private static byte[]? Mac(string text)
    {
        string[] parts = text.Split(':');
        var mac = new byte[6];
        for (int i = 0; i < parts.Length; i++)
        {
            if (parts.Length != 6 || !byte.TryParse(parts[i], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out mac[i]))
            {
                return null;
            }
        }

        return mac;
    }
}
