namespace XenSharp.Hypervisor.Events;

/// <summary>
/// The host backend's end of an interdomain channel to a guest port (see <see cref="EventChannelTable.BindHost"/>).
/// <see cref="Send"/> raises the guest's port; it does nothing once either side has closed. Thread-safe.
/// </summary>
public sealed class HostEventChannel
{
    private readonly EventChannelTable _table;
    private volatile bool _detached;

    internal HostEventChannel(EventChannelTable table, int port, IEventSink sink)
    {
        _table = table;
        Port = port;
        Sink = sink;
    }

    /// <summary>The guest's port.</summary>
    public int Port { get; }

    public IEventSink Sink { get; }

    /// <summary>False once the guest closed the port, the domain was destroyed, or <see cref="Close"/> was called.</summary>
    public bool IsConnected => !_detached && _table.IsBound(this);

    /// <summary>Notifies the guest (sets its port pending). False if the channel is no longer connected.</summary>
    public bool Send() => !_detached && _table.RaiseFromHost(this);

    /// <summary>The backend lets go: the guest's port becomes unbound again (remote domain 0).</summary>
    public void Close()
    {
        _detached = true;
        _table.UnbindHost(this);
    }

    internal void Detach() => _detached = true;
}
