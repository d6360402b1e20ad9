using XenSharp.Backends.Xenstore;
using XenSharp.Hypervisor.Logging;

namespace XenSharp.Backends.Xenbus;

/// <summary>
/// What every split-device backend (blkback, a VIF's netback) has around its driver, set up and torn down one way: a
/// store connection of its own, the <see cref="XenbusBackend"/> handshake, and the device's own <see cref="BackendLoop"/>
/// (never a vCPU thread) whose passes run under the driver's lock.
/// <para>
/// Invariants: the handshake is started (features probed, InitWait, the frontend's state watched) under the gate before
/// the loop exists; the driver learns its device and handshake (<c>bind</c>) before its first pass can run; a pass, the start and
/// <see cref="Dispose"/> never overlap (all under the gate); after Dispose no pass runs, and Dispose runs its teardown
/// once (loop stopped, watch dropped, driver disconnected — rings unmapped, channels closed —, store connection closed,
/// then the driver's own <c>closed</c> step).
/// </para>
/// </summary>
internal sealed class XenbusDevice
{
    private readonly object _gate;
    private readonly Action _pass;
    private BackendLoop? _loop;
    private bool _disposed;

    private XenbusDevice(XenbusBackend xenbus, object gate, Action pass)
    {
        Xenbus = xenbus;
        _gate = gate;
        _pass = pass;
    }

    public XenbusBackend Xenbus { get; }

    /// <summary>
    /// Starts serving the device whose backend nodes the toolstack wrote at <paramref name="backendPath"/>: the
    /// handshake for <paramref name="driver"/>, handed to the driver with the device by <paramref name="bind"/> (which
    /// names the loop), started under <paramref name="gate"/>; then the loop, whose passes run <paramref name="pass"/> under it.
    /// </summary>
    /// <param name="ownThread">false (tests): the loop has no thread; passes run through <see cref="Pass"/>.</param>
    public static XenbusDevice Attach(
        XenStore store, string backendPath, IXenbusDriver driver, HypervisorLog log, object gate, Action pass, Func<XenbusDevice, string> bind, TimeSpan poll, bool ownThread)
    {
        XsClient client = store.Connect(0);
        try
        {
            var device = new XenbusDevice(new XenbusBackend(client, backendPath, driver, log), gate, pass);
            string name = bind(device);
            lock (gate)
            {
                device.Xenbus.Start();
            }

            device._loop = new BackendLoop(name, device.Pass, poll, ownThread);
            return device;
        }
        catch
        {
            client.Dispose();
            throw;
        }
    }

    /// <summary>One pass of the driver, under its gate, unless disposed. Any thread.</summary>
    public void Pass()
    {
        lock (_gate)
        {
            if (!_disposed)
            {
                _pass();
            }
        }
    }

    /// <summary>Wakes the loop for a pass; returns at once.</summary>
    public void Post() => _loop?.Post();

    /// <summary>Stops the loop (a running pass finishes first), then tears the device down once and runs <paramref name="closed"/>.</summary>
    public void Dispose(Action? closed = null)
    {
        _loop?.Dispose();
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            Xenbus.Dispose();
            closed?.Invoke();
        }
    }
}
