namespace XenSharp.Hypervisor.Dom0;

/// <summary>
/// An open <see cref="ForeignPage"/> (or a test's page): <see cref="Bytes"/> is the page while <see cref="IsPresent"/>,
/// empty otherwise. Dispose exactly once, on the thread that opened it.
/// </summary>
public ref struct PageAccess : IDisposable
{
    private object? _lock;

    /// <param name="heldLock">The monitor the opener entered; disposing exits it.</param>
    public PageAccess(object heldLock, bool isPresent, Span<byte> bytes)
    {
        _lock = heldLock;
        IsPresent = isPresent;
        Bytes = bytes;
    }

    public bool IsPresent { get; }

    public Span<byte> Bytes { get; }

    public void Dispose()
    {
        if (_lock is { } l)
        {
            _lock = null;
            Monitor.Exit(l);
        }
    }
}
