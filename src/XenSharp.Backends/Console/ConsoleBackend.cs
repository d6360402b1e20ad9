using System.Runtime.InteropServices;
using XenSharp.Abi;
using XenSharp.Hypervisor;
using XenSharp.Hypervisor.Dom0;
using XenSharp.Hypervisor.Domains;
using XenSharp.Hypervisor.Events;
using XenSharp.Hypervisor.Logging;
using XenSharp.Hypervisor.Memory;

namespace XenSharp.Backends.Console;

/// <summary>
/// The PV console backend for one domain (what xenconsoled does in domain 0): drains the guest's out ring into an
/// <see cref="IConsoleSink"/> and advances out_cons, fills the in ring from the sink's input and advances in_prod, and
/// notifies the guest on the console event channel after either.
/// <para>
/// Every index in the page is hostile: prod − cons (unsigned, free-running) larger than the ring means a broken guest —
/// logged once, then resynchronised (out_cons := out_prod, in_prod := in_cons) so the guest can carry on; one pass
/// copies at most one ring's worth, so nothing here loops on guest data or throws.
/// </para>
/// <para>
/// Threads: the backend serves its ring on its own loop (<see cref="BackendLoop"/>, one thread per console): the
/// guest's EVTCHNOP_send on the console port only posts to it (<see cref="Notify"/>) and returns at once, and the loop
/// also polls every interval (input, and output a guest wrote without notifying). XTF spins until out_cons catches up;
/// the loop's thread moves it. <see cref="_lock"/> serialises passes (the loop's and explicit <see cref="Service"/>
/// calls). The ring page is touched only through an open <see cref="ForeignPage"/> after checking the domain still owns
/// the frame, so a frame the domain gave up or that was freed is never written; the sink is called with the page
/// closed. Lock order: this backend, then the core (page, event table), never the other way.
/// </para>
/// Dispose before destroying the domain: it stops the loop, drains the output one last time and unbinds the port.
/// </summary>
public sealed class ConsoleBackend : IEventSink, IDisposable
{
    public static readonly TimeSpan DefaultPollInterval = TimeSpan.FromMilliseconds(10);

    private readonly object _lock = new();
    private readonly HypervisorLog _log;
    private readonly ushort _domid;
    private readonly ForeignPage _ring;
    private readonly IConsoleSink _sink;
    private readonly byte[] _out = new byte[XenConsoleLayout.OutSize];
    private readonly byte[] _in = new byte[XenConsoleLayout.InSize];
    private HostEventChannel _channel = null!;
    private BackendLoop _loop = null!;
    private int _pendingIn; // bytes read from the sink that did not fit in the ring yet
    private bool _disposed;
    private bool _brokenLogged;
    private bool _lostLogged;
    private bool _errorLogged;

    private ConsoleBackend(HypervisorLog log, ushort domid, ForeignPage ring, IConsoleSink sink)
    {
        _log = log;
        _domid = domid;
        _ring = ring;
        _sink = sink;
    }

    /// <summary>The guest's console port, now interdomain with this backend.</summary>
    public int Port => _channel.Port;

    /// <summary>
    /// Connects to the console page <paramref name="ring"/> (a frame domain <paramref name="domid"/> owns) and the port the
    /// builder allocated unbound for domain 0, marks the page connected, and starts polling every
    /// <paramref name="pollInterval"/> (null: <see cref="DefaultPollInterval"/>; <see cref="Timeout.InfiniteTimeSpan"/>:
    /// no timer, only events and explicit <see cref="Service"/> calls).
    /// </summary>
    public static ConsoleBackend Attach(XenHypervisor hypervisor, ushort domid, Mfn ring, int port, IConsoleSink sink, TimeSpan? pollInterval = null) =>
        Attach(hypervisor, domid, ring, port, sink, pollInterval, ownThread: true);

    /// <param name="ownThread">false (tests): no loop thread; posts wait for <see cref="Loop"/>.RunPending().</param>
    internal static ConsoleBackend Attach(XenHypervisor hypervisor, ushort domid, Mfn ring, int port, IConsoleSink sink, TimeSpan? pollInterval, bool ownThread)
    {
        ForeignPage page = hypervisor.ForeignMemory.Map(domid, ring)
            ?? throw new ArgumentException($"{ring} is not a frame of d{domid}", nameof(ring));
        var backend = new ConsoleBackend(hypervisor.Log, domid, page, sink);
        using (PageAccess a = page.Open())
        {
            if (a.IsPresent)
            {
                a.Bytes[XenConsoleLayout.Connection] = 0; // XENCONSOLE_CONNECTED, as xenconsoled marks it
            }
        }

        backend._loop = new BackendLoop($"console d{domid}", backend.Poll, pollInterval ?? DefaultPollInterval, ownThread);
        backend._channel = hypervisor.HostEvents.BindInterdomain(domid, port, backend)
            ?? Fail(backend._loop, $"port {port} of d{domid} is not unbound for domain 0", nameof(port));
        return backend;
    }

    /// <summary>The backend's loop (tests run its passes by hand when it has no thread).</summary>
    internal BackendLoop Loop => _loop;

    /// <summary>The guest sent on the console port (its vCPU thread, no core lock held): wakes the loop, returns at once.</summary>
    public void Notify() => _loop.Post();

    /// <summary>
    /// One pass: output from the out ring to the sink, input from the sink to the in ring, then one notification if
    /// either moved. Returns whether anything moved. Exceptions come only from the sink.
    /// </summary>
    public bool Service()
    {
        lock (_lock)
        {
            if (_disposed)
            {
                return false;
            }

            bool moved = DrainOutput();
            moved |= FillInput();
            if (moved)
            {
                _channel.Send();
            }

            return moved;
        }
    }

    public void Dispose()
    {
        _loop.Dispose();
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            try
            {
                DrainOutput(); // the guest's last words
            }
            catch (Exception e)
            {
                LogError(e);
            }

            _disposed = true;
        }

        _channel.Close();
    }

    private static HostEventChannel Fail(BackendLoop loop, string message, string param)
    {
        loop.Dispose();
        throw new ArgumentException(message, param);
    }

    private void Poll()
    {
        try
        {
            Service();
        }
        catch (Exception e)
        {
            LogError(e);
        }
    }

    /// <summary>Copies out[out_cons, out_prod) to the sink and advances out_cons. Caller holds <see cref="_lock"/>.</summary>
    private bool DrainOutput()
    {
        int n;
        using (PageAccess a = _ring.Open())
        {
            if (!CheckRing(a))
            {
                return false;
            }

            Span<byte> page = a.Bytes;
            ref uint consRef = ref Index(page, XenConsoleLayout.OutCons);
            uint cons = Volatile.Read(ref consRef);
            uint prod = Volatile.Read(ref Index(page, XenConsoleLayout.OutProd)); // data is read after the index
            uint size = prod - cons;
            if (size == 0)
            {
                return false;
            }

            if (size > XenConsoleLayout.OutSize)
            {
                Broken($"out_prod {prod:#x} - out_cons {cons:#x} exceeds the {XenConsoleLayout.OutSize}-byte ring");
                Volatile.Write(ref consRef, prod);
                return true;
            }

            n = (int)size;
            for (int i = 0; i < n; i++)
            {
                _out[i] = page[XenConsoleLayout.Out + (int)((cons + (uint)i) & (XenConsoleLayout.OutSize - 1))];
            }

            Volatile.Write(ref consRef, prod); // the slots are free once copied
        }

        _sink.Write(_out.AsSpan(0, n));
        return true;
    }

    /// <summary>Moves pending sink input into in[in_prod...] as far as the ring has room. Caller holds <see cref="_lock"/>.</summary>
    private bool FillInput()
    {
        bool resynced = false;
        int space;
        using (PageAccess a = _ring.Open())
        {
            if (!CheckRing(a))
            {
                return false;
            }

            space = InSpace(a.Bytes, ref resynced);
        }

        if (_pendingIn < space)
        {
            int got = _sink.Read(_in.AsSpan(_pendingIn, space - _pendingIn));
            _pendingIn += Math.Clamp(got, 0, space - _pendingIn);
        }

        if (_pendingIn == 0)
        {
            return resynced;
        }

        using (PageAccess a = _ring.Open())
        {
            if (!CheckRing(a))
            {
                return false;
            }

            Span<byte> page = a.Bytes;
            space = InSpace(page, ref resynced); // the guest may have moved in_cons meanwhile
            int n = Math.Min(space, _pendingIn);
            ref uint prodRef = ref Index(page, XenConsoleLayout.InProd);
            uint prod = Volatile.Read(ref prodRef);
            for (int i = 0; i < n; i++)
            {
                page[XenConsoleLayout.In + (int)((prod + (uint)i) & (XenConsoleLayout.InSize - 1))] = _in[i];
            }

            Volatile.Write(ref prodRef, prod + (uint)n); // the bytes are visible before the index
            _in.AsSpan(n, _pendingIn - n).CopyTo(_in);
            _pendingIn -= n;
            return n > 0 || resynced;
        }
    }

    /// <summary>Free bytes in the in ring; a corrupt in_cons is resynchronised (in_prod := in_cons). Caller has the page open.</summary>
    private int InSpace(Span<byte> page, ref bool resynced)
    {
        uint cons = Volatile.Read(ref Index(page, XenConsoleLayout.InCons));
        ref uint prodRef = ref Index(page, XenConsoleLayout.InProd);
        uint prod = Volatile.Read(ref prodRef);
        uint used = prod - cons;
        if (used > XenConsoleLayout.InSize)
        {
            Broken($"in_prod {prod:#x} - in_cons {cons:#x} exceeds the {XenConsoleLayout.InSize}-byte ring");
            Volatile.Write(ref prodRef, cons);
            resynced = true;
            used = 0;
        }

        return XenConsoleLayout.InSize - (int)used;
    }

    /// <summary>Whether the domain still owns the ring frame (stable while <paramref name="a"/> is open).</summary>
    private bool CheckRing(in PageAccess a)
    {
        if (a.IsPresent)
        {
            return true;
        }

        if (!_lostLogged)
        {
            _lostLogged = true;
            _log.Domain(_domid, $"console backend: {_ring.Frame} is no longer the domain's; console disconnected");
        }

        return false;
    }

    private void Broken(string what)
    {
        if (!_brokenLogged)
        {
            _brokenLogged = true;
            _log.Domain(_domid, $"console ring corrupt: {what}; resynchronised (further corruption is not logged)");
        }
    }

    private void LogError(Exception e)
    {
        if (!_errorLogged)
        {
            _errorLogged = true;
            _log.Domain(_domid, $"console backend: {e.GetType().Name}: {e.Message}");
        }
    }

    private static ref uint Index(Span<byte> page, int offset) =>
        ref MemoryMarshal.Cast<byte, uint>(page.Slice(offset, sizeof(uint)))[0];
}
