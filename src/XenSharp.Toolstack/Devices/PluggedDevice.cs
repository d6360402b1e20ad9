using XenSharp.Backends.Xenbus;

namespace XenSharp.Toolstack.Devices;

/// <summary>
/// One device a domain has: its kind in the store (vbd, vif), its device id, the config entry it came from, its MAC (a
/// VIF's), and its backend. <see cref="Detaching"/> is set (under <see cref="DomainDevices"/>' lock) once a detach has
/// begun, so a second one is refused.
/// </summary>
internal sealed class PluggedDevice(string kind, int devid, string entry, IDisposable backend, XenbusBackend xenbus, byte[]? mac = null)
{
    public string Kind { get; } = kind;

    public int DeviceId { get; } = devid;

    public string Entry { get; } = entry;

    public IDisposable Backend { get; } = backend;

    public XenbusBackend Xenbus { get; } = xenbus;

    public byte[]? Mac { get; } = mac;

    public bool Detaching { get; set; }
}
