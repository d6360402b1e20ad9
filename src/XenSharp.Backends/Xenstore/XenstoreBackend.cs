using XenSharp.Hypervisor;
using XenSharp.Hypervisor.Dom0;
using XenSharp.Hypervisor.Events;
using XenSharp.Hypervisor.Memory;

namespace XenSharp.Backends.Xenstore;

/// <summary>
/// Connects one domain's xenstore ring to the store: binds the store port the builder allocated unbound for domain 0
/// (as xenstored binds it on XS_INTRODUCE) and introduces the domain. The guest's EVTCHNOP_send on that port runs
/// <see cref="Notify"/> on its vCPU thread, which lets the store process the ring; the store notifies back on the port.
/// Dispose when the domain ends, after the toolstack removed its nodes and before its frames are freed: the store
/// releases the domain (firing @releaseDomain) and the port is unbound.
/// </summary>
public sealed class XenstoreBackend : IEventSink, IDisposable
{
    private readonly XenStore _store;
    private readonly ushort _domid;
    private HostEventChannel _channel = null!;
    private StoreConnection? _connection;
    private int _disposed;

    private XenstoreBackend(XenStore store, ushort domid)
    {
        _store = store;
        _domid = domid;
    }

    /// <summary>The guest's store port, now interdomain with this backend.</summary>
    public int Port => _channel.Port;

    /// <summary>Binds <paramref name="port"/> and introduces domain <paramref name="domid"/> with its store page <paramref name="page"/>.</summary>
    public static XenstoreBackend Attach(XenStore store, XenHypervisor hypervisor, ushort domid, Mfn page, int port)
    {
        var backend = new XenstoreBackend(store, domid);
        var storePage = new DomainStorePage(hypervisor.ForeignMemory.Map(domid, page)
            ?? throw new ArgumentException($"{page} is not a frame of d{domid}", nameof(page)));
        backend._channel = hypervisor.HostEvents.BindInterdomain(domid, port, backend)
            ?? throw new ArgumentException($"port {port} of d{domid} is not unbound for domain 0", nameof(port));
        try
        {
            backend._connection = store.Introduce(domid, storePage, () => backend._channel.Send());
            store.Service(backend._connection); // a notification that came before _connection was set
        }
        catch
        {
            backend._channel.Close();
            throw;
        }

        return backend;
    }

    /// <summary>The guest sent on its store port (its vCPU thread, no core lock held).</summary>
    public void Notify()
    {
        if (_connection is { } c)
        {
            _store.Service(c);
        }
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _store.Release(_domid);
        _channel.Close();
    }
}
