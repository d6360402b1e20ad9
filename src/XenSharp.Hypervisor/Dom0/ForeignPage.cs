using XenSharp.Hypervisor.Domains;
using XenSharp.Hypervisor.Memory;

namespace XenSharp.Hypervisor.Dom0;

/// <summary>
/// One frame of a guest that a backend reaches by machine frame number (xenforeignmemory's map of the console or
/// store page). It is the guest's only while the guest owns it: a frame given back or freed with its domain is
/// absent, and then never written. <see cref="Open"/> holds the frame's owner steady until the access is disposed.
/// </summary>
public sealed class ForeignPage
{
    private readonly MachinePool _pool;
    private readonly ushort _owner;

    internal ForeignPage(Domain domain, Mfn frame)
    {
        _pool = domain.Pool;
        _owner = domain.Id;
        Frame = frame;
    }

    public Mfn Frame { get; }

    /// <summary>
    /// Enters the page: until the access is disposed, ownership of every frame stands still, so
    /// <see cref="PageAccess.IsPresent"/> stays true or false. Keep accesses short and take no other lock inside one:
    /// the core's memory waits.
    /// </summary>
    public PageAccess Open()
    {
        Monitor.Enter(_pool.Lock);
        bool present = _pool.Frames.Contains(Frame) && _pool.Frames[Frame].Owner == _owner;
        return new PageAccess(_pool.Lock, present, present ? _pool.Frame(Frame) : Span<byte>.Empty);
    }
}
