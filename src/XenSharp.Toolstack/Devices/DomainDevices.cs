using System.Globalization;
using XenSharp.Backends.Block;
using XenSharp.Backends.Net;
using XenSharp.Backends.Xenstore;
using XenSharp.Hypervisor;
using XenSharp.Toolstack.Config;
using XenSharp.Toolstack.Store;

namespace XenSharp.Toolstack.Devices;

/// <summary>
/// Domain 0's backends for one domain's virtual devices, from its build (<see cref="DeviceSetup"/>) until it goes, and
/// devices plugged in and out in between (xl block-attach, network-attach, block-detach, network-detach), each as
/// libxl does it: attach writes the frontend and backend nodes in one transaction and starts the backend on its own
/// loop (the guest's xenbus watch sees the new device); detach is <see cref="DetachAsync"/>.
/// <para>
/// Invariants: the device list changes only under <see cref="_lock"/>; no two devices of a kind share a device id;
/// every device is torn down exactly once and always by <see cref="Teardown"/> (its backend disposed: rings unmapped,
/// event channels closed, image closed and its lock released, VIF off the VFR; then its nodes removed), whether it is
/// unplugged or the domain ends (<see cref="Dispose"/>). Lock order: the caller's (the daemon's domain lock), then
/// <see cref="_lock"/>, then a backend's own; nothing waits for a frontend under <see cref="_lock"/>.
/// </para>
/// </summary>
public sealed partial class DomainDevices : IDisposable
{
    public const string Vbd = "vbd";
    public const string Vif = "vif";

    private readonly object _lock = new();
    private readonly XenHypervisor _hv;
    private readonly XenStore _store;
    private readonly XsClient _dom0;
    private readonly ushort _domid;
    private readonly List<PluggedDevice> _devices = new();
    private Vfr? _vfr;
    private bool _disposed;

    /// <param name="vfr">The host's virtual firewall-router, shared by every domain's VIFs; null: one of the domain's own, made for its first VIF.</param>
    public DomainDevices(XenHypervisor hypervisor, XenStore store, XsClient dom0, ushort domid, Vfr? vfr = null)
    {
        _hv = hypervisor;
        _store = store;
        _dom0 = dom0;
        _domid = domid;
        _vfr = vfr;
    }

    /// <summary>One blkback per disk, in the order they were attached.</summary>
    public IReadOnlyList<BlockBackend> Disks => Backends<BlockBackend>();

    /// <summary>One VIF backend per network interface, in the order they were attached.</summary>
    public IReadOnlyList<VifBackend> Vifs => Backends<VifBackend>();

    /// <summary>
    /// libxl__device_disk_add for a phy backend: opens the image (read-only and shared, or read-write and exclusive),
    /// writes the nodes (<see cref="XlStoreNodes.WriteDisk"/>) and starts its blkback, which goes to InitWait and waits
    /// for the guest's blkfront. A device number in use, an image that cannot be opened or is empty, is a
    /// <see cref="DeviceException"/> starting with <paramref name="where"/> (the entry, for the message); nothing is left.
    /// </summary>
    public BlockBackend AttachDisk(DiskSpec disk, string where)
    {
        lock (_lock)
        {
            Refuse(Vbd, disk.DeviceNumber, $"{where}: vdev {disk.Vdev} is device {disk.DeviceNumber}, already used by disk");
            BlockImage image = Open(disk, where);
            try
            {
                string back = XlStoreNodes.DiskBackendPath(_domid, disk.DeviceNumber);
                return Plug(Vbd, disk.DeviceNumber, disk.Entry, back, where, () => XlStoreNodes.WriteDisk(_dom0, _domid, disk),
                    () => BlockBackend.Attach(_hv, _store, back, image, disk.Discard), b => b.Xenbus);
            }
            catch
            {
                image.Dispose();
                throw;
            }
        }
    }

    /// <summary>
    /// libxl__device_nic_add: the MAC (the entry's, or a random 00:16:3e one as libxl makes it), the nodes
    /// (<see cref="XlStoreNodes.WriteVif"/>) and the VIF's xenbus backend, which connects the guest's netfront to the VFR.
    /// A devid in use is a <see cref="DeviceException"/> starting with <paramref name="where"/>.
    /// </summary>
    /// <param name="rules">The VIF's VFR rules (the config's `vfr_rules` entries for its devid, in file order); none: allow all.</param>
    public VifBackend AttachVif(VifSpec vif, string where, IReadOnlyList<VfrRule>? rules = null)
    {
        lock (_lock)
        {
            Refuse(Vif, vif.DeviceId, $"{where}: devid {vif.DeviceId} is already used by vif");
            byte[] mac = vif.Mac ?? VifMac.Generate();
            string back = XlStoreNodes.VifBackendPath(_domid, vif.DeviceId);
            _vfr ??= new Vfr();
            Vfr vfr = _vfr;
            return Plug(Vif, vif.DeviceId, vif.Entry, back, where, () => XlStoreNodes.WriteVif(_dom0, _domid, vif, mac),
                () => VifBackend.Attach(_hv, _store, back, vfr, rules), b => b.Xenbus, mac);
        }
    }

    /// <summary>The next free VIF devid, as libxl__device_nextid: one more than the highest under the domain's device/vif (0 for the first).</summary>
    public int NextVifId()
    {
        lock (_lock)
        {
            IEnumerable<int> inStore = (_dom0.Directory($"{XlStoreNodes.DomainPath(_domid)}/device/{Vif}") ?? [])
                .Select(d => int.TryParse(d, NumberStyles.None, CultureInfo.InvariantCulture, out int n) ? n : -1);
            return inStore.Concat(_devices.Where(d => d.Kind == Vif).Select(d => d.DeviceId)).DefaultIfEmpty(-1).Max() + 1;
        }
    }

    /// <summary>Whether the domain has a device of <paramref name="kind"/> with <paramref name="devid"/> (being detached or not).</summary>
    public bool Has(string kind, int devid)
    {
        lock (_lock)
        {
            return _devices.Exists(d => d.Kind == kind && d.DeviceId == devid);
        }
    }

    /// <summary>The devid of the VIF with <paramref name="mac"/>, or null (libxl_mac_to_device_nic).</summary>
    public int? VifWithMac(byte[] mac)
    {
        lock (_lock)
        {
            return _devices.Find(d => d.Kind == Vif && d.Mac is { } m && m.AsSpan().SequenceEqual(mac))?.DeviceId;
        }
    }

    /// <summary>xentop's figures for the domain's devices, from the backends' own counters.</summary>
    public DeviceStatistics Statistics()
    {
        IReadOnlyList<BlockBackend> disks = Disks;
        IReadOnlyList<VifBackend> vifs = Vifs;
        List<(long TxBytes, long RxBytes)> traffic = vifs.Select(v => v.Traffic).ToList();
        List<BlockCounters> counters = disks.Select(d => d.Counters).ToList();
        return new DeviceStatistics(
            vifs.Count,
            traffic.Sum(t => t.TxBytes),
            traffic.Sum(t => t.RxBytes),
            disks.Count,
            counters.Sum(c => c.OutOfRequests),
            counters.Sum(c => c.ReadRequests),
            counters.Sum(c => c.WriteRequests),
            counters.Sum(c => c.ReadSectors),
            counters.Sum(c => c.WriteSectors));
    }

    /// <summary>The domain is going: every device torn down (<see cref="Teardown"/>), before its frames are freed.</summary>
    public void Dispose()
    {
        lock (_lock)
        {
            _disposed = true;
            foreach (PluggedDevice d in _devices)
            {
                Teardown(d);
            }

            _devices.Clear();
        }
    }

    private List<T> Backends<T>()
    {
        lock (_lock)
        {
            return _devices.Select(d => d.Backend).OfType<T>().ToList();
        }
    }

    // A device id already in use (by a device here, or by nodes in the store) is refused, as libxl__device_exists does.
    private void Refuse(string kind, int devid, string inUse)
    {
        if (_disposed)
        {
            throw new DeviceException($"domain {_domid} is gone");
        }

        if (_devices.Find(d => d.Kind == kind && d.DeviceId == devid) is { } other)
        {
            throw new DeviceException($"{inUse} {ConfigText.SingleQuoted(other.Entry)}");
        }

        string front = $"{XlStoreNodes.DomainPath(_domid)}/device/{kind}/{devid}";
        if (_dom0.Read($"{front}/backend") is not null)
        {
            throw new DeviceException($"{inUse} {front} (the device already exists in xenstore)");
        }
    }

    // Writes the nodes, starts the backend and records the device; undoes the nodes if the backend does not start.
    private T Plug<T>(string kind, int devid, string entry, string back, string where, Func<XsError> write, Func<T> attach, Func<T, Backends.Xenbus.XenbusBackend> xenbus, byte[]? mac = null)
        where T : IDisposable
    {
        XsError e = write();
        if (e != XsError.None)
        {
            throw new DeviceException($"{where}: cannot write the xenstore nodes: {e}");
        }

        T backend;
        try
        {
            backend = attach();
        }
        catch
        {
            RemoveNodes(back, $"{XlStoreNodes.DomainPath(_domid)}/device/{kind}/{devid}");
            throw;
        }

        _devices.Add(new PluggedDevice(kind, devid, entry, backend, xenbus(backend), mac));
        return backend;
    }

    private static BlockImage Open(DiskSpec disk, string where)
    {
        BlockImage image;
        try
        {
            image = BlockImage.Open(disk.Target, disk.ReadOnly);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DeviceException($"{where}: cannot open {disk.Target}{(disk.ReadOnly ? "" : " for writing")}: {e.Message}");
        }

        if (image.Sectors == 0)
        {
            image.Dispose();
            throw new DeviceException($"{where}: {disk.Target} is empty (a disk needs at least one 512-byte sector)");
        }

        return image;
    }
}
