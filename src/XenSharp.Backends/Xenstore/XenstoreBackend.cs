using XenSharp.Hypervisor;
using XenSharp.Hypervisor.Dom0;
using XenSharp.Hypervisor.Events;
using XenSharp.Hypervisor.Memory;

namespace XenSharp.Backends.Xenstore;

/// <summary>
/// Connects one domain's xenstore ring to the store: binds the store port the builder allocated unbound for domain 0
/// (as xenstored binds it on XS_INTRODUCE) and introduces the domain. The guest's EVTCHNOP_send on that port only posts
/// to this backend's own loop (<see cref="BackendLoop"/>, one thread per domain's ring) and returns at once; the loop lets
/// the store process the ring, and the store notifies back on the port.
/// Dispose when the domain ends, after the toolstack removed its nodes and before its frames are freed: the store
/// releases the domain (firing @releaseDomain) and the port is unbound.
/// </summary>
public sealed class XenstoreBackend : IEventSink, IDisposable
{
    private readonly XenStore _store;
    private readonly ushort _domid;
    private HostEventChannel _channel = null!;
    private StoreConnection? _connection;
    private BackendLoop _loop = null!;
    private int _disposed;

    private XenstoreBackend(XenStore store, ushort domid)
    {
        _store = store;
        _domid = domid;
    }

    /// <summary>The guest's store port, now interdomain with this backend.</summary>
    public int Port => _channel.Port;

    /// <summary>Binds <paramref name="port"/> and introduces domain <paramref name="domid"/> with its store page <paramref name="page"/>.</summary>
    public static XenstoreBackend Attach(XenStore store, XenHypervisor hypervisor, ushort domid, Mfn page, int port) =>
        Attach(store, hypervisor, domid, page, port, ownThread: true);

    /// <param name="ownThread">false (tests): no loop thread; posts wait for <see cref="Loop"/>.RunPending().</param>
    internal static XenstoreBackend Attach(XenStore store, XenHypervisor hypervisor, ushort domid, Mfn page, int port, bool ownThread)
    {
        var backend = new XenstoreBackend(store, domid);
        var storePage = new DomainStorePage(hypervisor.ForeignMemory.Map(domid, page)
            ?? throw new ArgumentException($"{page} is not a frame of d{domid}", nameof(page)));
        backend._loop = new BackendLoop($"xenstore d{domid}", backend.Pass, Timeout.InfiniteTimeSpan, ownThread);
        HostEventChannel? channel = hypervisor.HostEvents.BindInterdomain(domid, port, backend);
        if (channel is null)
        {
            backend._loop.Dispose();
            throw new ArgumentException($"port {port} of d{domid} is not unbound for domain 0", nameof(port));
        }

        backend._channel = channel;
        try
        {
            Volatile.Write(ref backend._connection, store.Introduce(domid, storePage, () => backend._channel.Send()));
            store.Service(backend._connection); // a notification that came before _connection was set
        }
        catch
        {
            backend._loop.Dispose();
            backend._channel.Close();
            throw;
        }

        return backend;
    }

    /// <summary>The backend's loop (tests run its passes by hand when it has no thread).</summary>
    internal BackendLoop Loop => _loop;

    /// <summary>The guest sent on its store port (its vCPU thread, no core lock held): wakes the loop, returns at once.</summary>
    public void Notify() => _loop.Post();

    private void Pass()
    {
        if (Volatile.Read(ref _connection) is { } c)
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

        _loop.Dispose();
        _store.Release(_domid);
        _channel.Close();
    }
}
