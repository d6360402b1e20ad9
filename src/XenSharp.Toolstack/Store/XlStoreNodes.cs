using System.Globalization;
using XenSharp.Backends.Xenstore;
using XenSharp.Toolstack.Builder;
using XenSharp.Toolstack.Config;

namespace XenSharp.Toolstack.Store;

/// <summary>
/// The xenstore nodes xl (libxl) writes for a PV domU, and removes when it goes: libxl__domain_make's skeleton,
/// libxl__build_post's values and the primary console's frontend and backend (libxl_console.c). Permissions as libxl
/// sets them: the domain may read its home but write only where it owns the node (data, drivers, feature, attr, error,
/// the control/ keys it answers, device/suspend/event-channel); everything else is domain 0's. libxl's private
/// /libxl/&lt;domid&gt; tree is not written: no guest can see it. Virtual block devices as libxl__device_disk_add
/// writes them for a phy backend (<see cref="WriteDisk"/>), without the hotplug script's nodes: XenSharp's blkback
/// opens the target itself. Virtual network interfaces as libxl__set_xenstore_nic writes them (<see cref="WriteVif"/>).
/// </summary>
public static class XlStoreNodes
{
    /// <summary>LIBXL_XENCONSOLE_LIMIT.</summary>
    public const int ConsoleLimit = 1048576;

    /// <summary>XenbusStateInitialising, the state libxl gives a new console backend.</summary>
    private const string Initialising = "1";

    private static readonly string[] ControlNodes = ["shutdown", "feature-poweroff", "feature-reboot", "feature-suspend", "sysrq"];
    private static readonly string[] DomainOwned = ["data", "drivers", "feature", "attr", "error"];

    /// <summary>What xen-init-dom0 writes for domain 0 itself.</summary>
    public static XsError WriteDom0(XsClient dom0) => dom0.Transact(tx =>
        First(dom0.Write("/local/domain/0/name", "Domain-0", tx), dom0.Write("/local/domain/0/domid", "0", tx)));

    /// <summary>Writes the domain's nodes, each group in a transaction retried on EAGAIN, as libxl does.</summary>
    public static XsError Write(XsClient dom0, uint domid, Guid uuid, DomainConfig config, DomainRings rings, DateTime startTime)
    {
        string dom = DomainPath(domid);
        string vm = VmPath(uuid);
        XsPermission[] ro = [XsPermission.None(0), XsPermission.Read(domid)];
        XsPermission[] rw = [XsPermission.None(domid)];

        XsError e = dom0.Transact(tx =>
        {
            dom0.Remove(dom, tx); // libxl ignores these: the paths normally do not exist
            dom0.Remove(vm, tx);
            var results = new List<XsError>
            {
                MakeNode(dom0, tx, dom, ro),
                MakeNode(dom0, tx, vm, ro),
                dom0.Write($"{dom}/vm", vm, tx),
                dom0.Write($"{dom}/name", config.Name, tx),
                MakeNode(dom0, tx, $"{dom}/cpu", ro),
                MakeNode(dom0, tx, $"{dom}/memory", ro),
                MakeNode(dom0, tx, $"{dom}/device", ro),
                MakeNode(dom0, tx, $"{dom}/device/suspend/event-channel", rw),
                MakeNode(dom0, tx, $"{dom}/control", ro),
            };
            results.AddRange(ControlNodes.Select(n => MakeNode(dom0, tx, $"{dom}/control/{n}", rw)));
            results.AddRange(DomainOwned.Select(n => MakeNode(dom0, tx, $"{dom}/{n}", rw)));
            results.Add(dom0.Write($"{vm}/uuid", uuid.ToString("D"), tx));
            results.Add(dom0.Write($"{vm}/name", config.Name, tx));
            results.Add(dom0.Write($"{dom}/control/platform-feature-multiprocessor-suspend", "1", tx));
            results.Add(dom0.Write($"{dom}/control/platform-feature-xs_reset_watches", "1", tx));
            return First([.. results]);
        });
        if (e != XsError.None)
        {
            return e;
        }

        var local = new List<(string, string)>
        {
            ("memory/static-max", Kib(config.MaxMemoryMiB)),
            ("memory/target", Kib(config.MemoryMiB)),
            ("memory/videoram", "0"),
            ("domid", Number(domid)),
            ("store/port", Number(rings.StorePort)),
            ("store/ring-ref", Number(rings.StoreMfn.Value)),
        };
        local.AddRange(Enumerable.Range(0, config.Vcpus).Select(i => ($"cpu/{i}/availability", "online")));
        var vms = new List<(string, string)> { ("image/ostype", "linux"), ("image/kernel", config.Kernel) };
        if (config.Ramdisk is { } ramdisk)
        {
            vms.Add(("image/ramdisk", ramdisk));
        }

        if (config.CommandLine.Length > 0)
        {
            vms.Add(("image/cmdline", config.CommandLine));
        }

        TimeSpan sinceEpoch = startTime - DateTime.UnixEpoch;
        vms.Add(("start_time", string.Create(CultureInfo.InvariantCulture, $"{(long)sinceEpoch.TotalSeconds}.{sinceEpoch.Milliseconds / 10:00}")));
        e = dom0.Transact(tx => First(
        [
            .. local.Select(kv => dom0.Write($"{dom}/{kv.Item1}", kv.Item2, tx)),
            .. vms.Select(kv => dom0.Write($"{vm}/{kv.Item1}", kv.Item2, tx)),
        ]));
        return e != XsError.None ? e : WriteConsole(dom0, domid, rings);
    }

    /// <summary>What libxl__destroy_domid removes: the console backend, /vm/&lt;uuid&gt; and the domain's home.</summary>
    public static void Remove(XsClient dom0, uint domid)
    {
        string dom = DomainPath(domid);
        string? vm = dom0.Read($"{dom}/vm");
        dom0.Remove($"/local/domain/0/backend/console/{domid}");
        dom0.Remove($"/local/domain/0/backend/vbd/{domid}");
        dom0.Remove($"/local/domain/0/backend/vif/{domid}");
        if (vm is not null && vm.StartsWith("/vm/", StringComparison.Ordinal))
        {
            dom0.Remove(vm);
        }

        dom0.Remove(dom);
    }

    public static string DomainPath(uint domid) => $"/local/domain/{domid}";

    public static string VmPath(Guid uuid) => $"/vm/{uuid:D}";

    /// <summary>
    /// A disk's frontend and backend (libxl__device_disk_add, then libxl__device_generic_add): the backend directory is
    /// domain 0's and the domain may read it; the frontend directory is the domain's (its driver writes ring-ref,
    /// event-channel and state there) and domain 0 may read it. Both start Initialising.
    /// </summary>
    public static XsError WriteDisk(XsClient dom0, uint domid, DiskSpec disk)
    {
        string back = DiskBackendPath(domid, disk.DeviceNumber);
        string front = DiskFrontendPath(domid, disk.DeviceNumber);
        XsPermission[] frontPerms = [XsPermission.None(domid), XsPermission.Read(0)];
        XsPermission[] backPerms = [XsPermission.None(0), XsPermission.Read(domid)];
        (string, string)[] backEntries =
        [
            ("frontend", front),
            ("frontend-id", Number(domid)),
            ("online", "1"),
            ("state", Initialising),
            ("removable", "0"),
            ("bootable", "1"),
            ("dev", disk.Vdev),
            ("type", "phy"),
            ("mode", disk.ReadOnly ? "r" : "w"),
            ("device-type", "disk"),
            ("discard-enable", disk.Discard ? "1" : "0"),
            ("specification", "xen"),
            ("params", disk.Target),
            ("physical-device-path", disk.Target),
        ];
        (string, string)[] frontEntries =
        [
            ("backend", back),
            ("backend-id", "0"),
            ("state", Initialising),
            ("virtual-device", Number(disk.DeviceNumber)),
            ("device-type", "disk"),
            ("trusted", disk.Trusted ? "1" : "0"),
        ];
        return dom0.Transact(tx =>
        {
            dom0.Remove(front, tx);
            dom0.Remove(back, tx);
            var results = new List<XsError> { MakeNode(dom0, tx, front, frontPerms) };
            results.AddRange(frontEntries.Select(kv => dom0.Write($"{front}/{kv.Item1}", kv.Item2, tx)));
            results.Add(MakeNode(dom0, tx, back, backPerms));
            results.AddRange(backEntries.Select(kv => dom0.Write($"{back}/{kv.Item1}", kv.Item2, tx)));
            return First([.. results]);
        });
    }

    /// <summary>libxl's bridge when a vif names none.</summary>
    public const string DefaultBridge = "xenbr0";

    /// <summary>libxl's MTU when a vif names none.</summary>
    public const int DefaultMtu = 1500;

    /// <summary>
    /// A VIF's frontend and backend (libxl__set_xenstore_nic, then libxl__device_generic_add), with the permissions of
    /// <see cref="WriteDisk"/>; <paramref name="mac"/> is the VIF's address (the config's, or <see cref="VifMac.Generate"/>'s).
    /// No script node: XenSharp runs no hotplug scripts, its VIFs join the host's virtual firewall-router.
    /// </summary>
    public static XsError WriteVif(XsClient dom0, uint domid, VifSpec vif, byte[] mac)
    {
        string back = VifBackendPath(domid, vif.DeviceId);
        string front = VifFrontendPath(domid, vif.DeviceId);
        XsPermission[] frontPerms = [XsPermission.None(domid), XsPermission.Read(0)];
        XsPermission[] backPerms = [XsPermission.None(0), XsPermission.Read(domid)];
        string macText = VifMac.Format(mac);
        string mtu = Number(vif.Mtu ?? DefaultMtu);
        var backEntries = new List<(string, string)>
        {
            ("frontend", front),
            ("frontend-id", Number(domid)),
            ("online", "1"),
            ("state", Initialising),
            ("handle", Number(vif.DeviceId)),
            ("mac", macText),
            ("bridge", vif.Bridge ?? DefaultBridge),
            ("type", "vif"),
            ("mtu", mtu),
        };
        if (vif.VifName is { } name)
        {
            backEntries.Add(("vifname", name));
        }

        if (vif.Ip is { } ip)
        {
            backEntries.Add(("ip", ip));
        }

        (string, string)[] frontEntries =
        [
            ("backend", back),
            ("backend-id", "0"),
            ("state", Initialising),
            ("handle", Number(vif.DeviceId)),
            ("mac", macText),
            ("mtu", mtu),
        ];
        return dom0.Transact(tx =>
        {
            dom0.Remove(front, tx);
            dom0.Remove(back, tx);
            var results = new List<XsError> { MakeNode(dom0, tx, front, frontPerms) };
            results.AddRange(frontEntries.Select(kv => dom0.Write($"{front}/{kv.Item1}", kv.Item2, tx)));
            results.Add(MakeNode(dom0, tx, back, backPerms));
            results.AddRange(backEntries.Select(kv => dom0.Write($"{back}/{kv.Item1}", kv.Item2, tx)));
            return First([.. results]);
        });
    }

    public static string VifBackendPath(uint domid, int devid) => $"/local/domain/0/backend/vif/{domid}/{devid}";

    public static string VifFrontendPath(uint domid, int devid) => $"{DomainPath(domid)}/device/vif/{devid}";

    public static string DiskBackendPath(uint domid, int devid) => $"/local/domain/0/backend/vbd/{domid}/{devid}";

    public static string DiskFrontendPath(uint domid, int devid) => $"{DomainPath(domid)}/device/vbd/{devid}";

    public static string ConsoleBackendPath(uint domid) => $"/local/domain/0/backend/console/{domid}/0";

    /// <summary>The primary console (libxl__device_console_add with its build state, then libxl__device_generic_add).</summary>
    private static XsError WriteConsole(XsClient dom0, uint domid, DomainRings rings)
    {
        string front = $"{DomainPath(domid)}/console";
        string back = ConsoleBackendPath(domid);
        XsPermission[] frontPerms = [XsPermission.None(domid), XsPermission.Read(0)];
        XsPermission[] roFrontPerms = [XsPermission.None(0), XsPermission.Read(domid)];
        (string, string)[] roFront =
        [
            ("limit", Number(ConsoleLimit)),
            ("type", "xenconsoled"),
            ("output", "pty"),
            ("tty", ""),
            ("port", Number(rings.ConsolePort)),
            ("ring-ref", Number(rings.ConsoleMfn.Value)),
        ];
        (string, string)[] backEntries =
        [
            ("frontend-id", Number(domid)),
            ("online", "1"),
            ("state", Initialising),
            ("protocol", "vt100"),
        ];
        return dom0.Transact(tx =>
        {
            dom0.Remove(front, tx);
            dom0.Remove(back, tx);
            var results = new List<XsError>
            {
                MakeNode(dom0, tx, front, roFrontPerms),
                dom0.Write($"{front}/backend", back, tx),
                dom0.Write($"{front}/backend-id", "0", tx),
                dom0.SetPermissions($"{front}/backend-id", tx, frontPerms),
            };
            foreach ((string key, string value) in roFront)
            {
                results.Add(dom0.Write($"{front}/{key}", value, tx));
                results.Add(dom0.SetPermissions($"{front}/{key}", tx, roFrontPerms));
            }

            results.Add(MakeNode(dom0, tx, back, roFrontPerms));
            results.Add(dom0.Write($"{back}/frontend", front, tx));
            results.AddRange(backEntries.Select(kv => dom0.Write($"{back}/{kv.Item1}", kv.Item2, tx)));
            return First([.. results]);
        });
    }

    /// <summary>libxl__xs_mknod: mkdir, then set the node's permissions.</summary>
    private static XsError MakeNode(XsClient dom0, uint tx, string path, XsPermission[] perms) =>
        First(dom0.Mkdir(path, tx), dom0.SetPermissions(path, tx, perms));

    private static XsError First(params XsError[] results) => results.FirstOrDefault(e => e != XsError.None);

    private static string Kib(int mib) => Number((long)mib * 1024);

    private static string Number(long n) => n.ToString(CultureInfo.InvariantCulture);

    private static string Number(ulong n) => n.ToString(CultureInfo.InvariantCulture);
}
