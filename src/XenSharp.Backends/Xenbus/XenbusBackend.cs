using System.Globalization;
using XenSharp.Abi;
using XenSharp.Backends.Xenstore;
using XenSharp.Hypervisor.Logging;

namespace XenSharp.Backends.Xenbus;

/// <summary>
/// The backend side of one split device's xenbus handshake, as Linux's xenbus backends run it (blkback's
/// frontend_changed): at <see cref="Start"/> the driver writes its features and the backend goes to InitWait; then, on
/// each change of the frontend's state node (a store watch), Initialised or Connected connects the driver and goes to
/// Connected, Closing follows to Closing, Closed (or the node gone) disconnects and goes to Closed, and Initialising
/// after Closed prepares a reconnect (InitWait again). A connect that fails is xenbus_dev_fatal: the reason in
/// /local/domain/0/error/&lt;backend&gt;/error and the device to Closing.
/// <para>
/// Invariants: the driver is called only from <see cref="Poll"/>/<see cref="Start"/>/<see cref="Fatal"/>, all on the
/// owner's loop; the backend's state node is written only here, and by the toolstack's detach (Closing, with online 0,
/// as libxl asks a backend to go: this end's <see cref="State"/> does not follow it, so the frontend's Closed is still
/// answered with Closed, as a Linux backend answers it); every store reply is checked, none throws.
/// </para>
/// </summary>
public sealed class XenbusBackend : IDisposable
{
    private const string Token = "xenbus-frontend-state";

    private readonly XsClient _store;
    private readonly IXenbusDriver _driver;
    private readonly HypervisorLog? _log;
    private bool _disposed;

    /// <param name="store">A connection of domain 0's own to the store for this device (its watch events are the device's); disposed with it.</param>
    /// <param name="backendPath">/local/domain/0/backend/&lt;type&gt;/&lt;domid&gt;/&lt;devid&gt;, whose frontend and frontend-id the toolstack wrote.</param>
    public XenbusBackend(XsClient store, string backendPath, IXenbusDriver driver, HypervisorLog? log = null)
    {
        _store = store;
        _driver = driver;
        _log = log;
        BackendPath = backendPath;
        FrontendPath = store.Read($"{backendPath}/frontend") ?? throw new ArgumentException($"{backendPath} has no frontend node", nameof(backendPath));
        string id = store.Read($"{backendPath}/frontend-id") ?? throw new ArgumentException($"{backendPath} has no frontend-id node", nameof(backendPath));
        FrontendId = ushort.TryParse(id, NumberStyles.None, CultureInfo.InvariantCulture, out ushort d)
            ? d
            : throw new ArgumentException($"{backendPath}/frontend-id is not a domain id: '{id}'", nameof(backendPath));
    }

    public string BackendPath { get; }

    public string FrontendPath { get; }

    public ushort FrontendId { get; }

    /// <summary>The state this end last wrote.</summary>
    public XenbusState State { get; private set; } = XenbusState.Initialising;

    /// <summary>The store connection, for the driver to read the frontend's nodes.</summary>
    public XsClient Store => _store;

    /// <summary>The frontend's state node (Unknown when absent or not a number).</summary>
    public XenbusState FrontendState =>
        int.TryParse(_store.Read($"{FrontendPath}/state"), NumberStyles.None, CultureInfo.InvariantCulture, out int s) && s <= (int)XenbusState.Reconfigured
            ? (XenbusState)s
            : XenbusState.Unknown;

    /// <summary>Probes the driver (its nodes written in one transaction), goes to InitWait and watches the frontend's state.</summary>
    public void Start()
    {
        XsError e = _store.Transact(tx =>
        {
            _driver.Probe(this, tx);
            return XsError.None;
        });
        if (e != XsError.None)
        {
            Fatal($"writing the backend's features: {e}");
            return;
        }

        Switch(XenbusState.InitWait);
        _store.Watch($"{FrontendPath}/state", Token); // fires once at once: the frontend's current state is read then
    }

    /// <summary>Acts on the watch events that arrived since the last call; returns whether there were any.</summary>
    public bool Poll()
    {
        if (_disposed || _store.TakeEvents().Count == 0)
        {
            return false;
        }

        FrontendChanged(FrontendState);
        return true;
    }

    /// <summary>xenbus_dev_fatal: records why, disconnects the driver and goes to Closing.</summary>
    public void Fatal(string why)
    {
        _log?.Domain(FrontendId, $"{BackendPath}: {why}");
        string relative = BackendPath.StartsWith("/local/domain/0/", StringComparison.Ordinal) ? BackendPath["/local/domain/0/".Length..] : BackendPath.TrimStart('/');
        _store.Write($"/local/domain/0/error/{relative}/error", why);
        _driver.Disconnect();
        Switch(XenbusState.Closing);
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        _store.Unwatch($"{FrontendPath}/state", Token);
        _driver.Disconnect();
        _store.Dispose();
    }

    private void FrontendChanged(XenbusState frontend)
    {
        switch (frontend)
        {
            case XenbusState.Initialising:
                if (State == XenbusState.Closed)
                {
                    Switch(XenbusState.InitWait); // the frontend comes back after a close: prepare for reconnect
                }

                break;
            case XenbusState.Initialised or XenbusState.Connected:
                if (State is XenbusState.Connected or XenbusState.Closing)
                {
                    break; // two watches in close succession, or a device already failed
                }

                _driver.Disconnect(); // a reconnect starts from nothing
                if (_driver.Connect(this) is { } why)
                {
                    Fatal(why);
                    break;
                }

                Switch(XenbusState.Connected);
                break;
            case XenbusState.Closing:
                Switch(XenbusState.Closing);
                break;
            case XenbusState.Closed or XenbusState.Unknown:
                _driver.Disconnect();
                Switch(XenbusState.Closed);
                break;
            case XenbusState.InitWait:
                break; // a frontend waiting for us: nothing to do until it is Initialised
            default:
                Fatal($"saw state {(int)frontend} at frontend");
                break;
        }
    }

    private void Switch(XenbusState state)
    {
        if (State == state)
        {
            return;
        }

        State = state;
        _store.Write($"{BackendPath}/state", ((int)state).ToString(CultureInfo.InvariantCulture));
    }
}
