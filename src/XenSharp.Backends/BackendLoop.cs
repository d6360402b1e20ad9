namespace XenSharp.Backends;

/// <summary>
/// One backend instance's own loop (Firecracker's device model: device work never runs on a vCPU thread). A guest's
/// notification only <see cref="Post"/>s — sets a flag and wakes the loop — and returns at once; the loop runs the
/// backend's pass on its own thread, and also every poll interval when it has one.
/// <para>
/// Invariants: passes run one at a time, only on the loop's thread (or, without a thread, only inside
/// <see cref="RunPending"/>); a post made before a pass starts is served by that pass, one made during a pass by the
/// next, so no notification is lost and any number of posts between two passes costs one pass — a guest flooding its
/// backend's port burns only its own backend's thread. The wake-up gate <see cref="_gate"/> is a leaf lock held for a
/// flag check or a pulse, never during a pass.
/// </para>
/// </summary>
internal sealed class BackendLoop : IDisposable
{
    private readonly object _gate = new();
    private readonly Action _pass;
    private readonly TimeSpan _poll;
    private readonly Thread? _thread;
    private int _posted;
    private bool _stopping;
    private long _passes;

    /// <param name="name">The thread's name (e.g. "console d1").</param>
    /// <param name="pass">The backend's work; must not throw.</param>
    /// <param name="poll">Also run a pass this often with no post (<see cref="Timeout.InfiniteTimeSpan"/>: only on posts).</param>
    /// <param name="ownThread">false: no thread; passes run when a test calls <see cref="RunPending"/>.</param>
    public BackendLoop(string name, Action pass, TimeSpan poll, bool ownThread = true)
    {
        _pass = pass;
        _poll = poll;
        if (ownThread)
        {
            _thread = new Thread(Run) { IsBackground = true, Name = name };
            _thread.Start();
        }
    }

    /// <summary>Passes run so far.</summary>
    public long Passes => Interlocked.Read(ref _passes);

    /// <summary>Whether a post waits for a pass.</summary>
    public bool IsPending => Volatile.Read(ref _posted) != 0;

    /// <summary>Asks for a pass; returns at once. Any thread; a post after <see cref="Dispose"/> is dropped.</summary>
    public void Post()
    {
        if (Interlocked.Exchange(ref _posted, 1) != 0)
        {
            return; // a pass is already due: this post coalesces with it
        }

        lock (_gate)
        {
            Monitor.Pulse(_gate);
        }
    }

    /// <summary>Without a thread: runs one pass if a post waits. Returns whether it ran one.</summary>
    public bool RunPending()
    {
        if (_thread is not null)
        {
            throw new InvalidOperationException("this loop runs on its own thread");
        }

        if (Interlocked.Exchange(ref _posted, 0) == 0)
        {
            return false;
        }

        RunPass();
        return true;
    }

    /// <summary>Stops the loop and waits for a running pass to finish. Call it from outside a pass.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            _stopping = true;
            Monitor.Pulse(_gate);
        }

        _thread?.Join();
    }

    private void Run()
    {
        while (true)
        {
            lock (_gate)
            {
                while (!_stopping && Volatile.Read(ref _posted) == 0)
                {
                    if (!Monitor.Wait(_gate, _poll))
                    {
                        break; // the poll interval passed
                    }
                }

                if (_stopping)
                {
                    return;
                }
            }

            Interlocked.Exchange(ref _posted, 0);
            RunPass();
        }
    }

    private void RunPass()
    {
        Interlocked.Increment(ref _passes);
        _pass();
    }
}
