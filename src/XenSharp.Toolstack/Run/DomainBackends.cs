using XenSharp.Backends.Console;
using XenSharp.Backends.Xenstore;
using XenSharp.Toolstack.Devices;
using XenSharp.Toolstack.Store;

namespace XenSharp.Toolstack.Run;

/// <summary>
/// The domain-0 side of one running domain: its device backends, its console backend, its store connection and its
/// xenstore nodes. Dispose tears them down in libxl's order — devices disconnected, console drained, nodes removed,
/// then the store releases the domain (firing @releaseDomain) — all before the domain's frames are freed.
/// </summary>
public sealed class DomainBackends(XenStore store, XsClient dom0, ushort domid) : IDisposable
{
    public DomainDevices? Devices { get; set; }

    public ConsoleBackend? Console { get; set; }

    public XenstoreBackend? Store { get; set; }

    public void Dispose()
    {
        Devices?.Dispose();
        Console?.Dispose();
        XlStoreNodes.Remove(dom0, domid);
        if (Store is { } backend)
        {
            backend.Dispose();
        }
        else
        {
            store.Release(domid);
        }
    }
}
