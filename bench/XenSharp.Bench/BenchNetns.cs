using System.Collections.Concurrent;
using XenSharp.IntegrationTests.Support;
using XenSharp.Kvm;

namespace XenSharp.Bench;

/// <summary>
/// A thread in a network namespace of the bench's own (unshare(CLONE_NEWNET) applies to the calling thread only), as
/// the tests' NetnsThread: a process started from it (fork copies the thread's namespace) lives in the namespace, and
/// its interfaces are configured with the ioctls of tests/…/Support/HostInterfaces.cs (linked). Nothing outside the
/// namespace is touched; it goes away with the last process in it.
/// </summary>
public sealed class BenchNetns : IDisposable
{
    private readonly BlockingCollection<Action> _work = new();
    private readonly Thread _thread;
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private BenchNetns()
    {
        _thread = new Thread(Loop) { IsBackground = true, Name = "bench-netns" };
        _thread.Start();
    }

    /// <summary>The namespace, or an exception saying why there is none (it needs root: CAP_SYS_ADMIN).</summary>
    public static BenchNetns Start()
    {
        var t = new BenchNetns();
        try
        {
            t._ready.Task.GetAwaiter().GetResult();
            return t;
        }
        catch
        {
            t.Dispose();
            throw;
        }
    }

    /// <summary>Runs <paramref name="f"/> on the namespace's thread and returns its result.</summary>
    public T Run<T>(Func<T> f)
    {
        var done = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        _work.Add(() =>
        {
            try
            {
                done.SetResult(f());
            }
            catch (Exception e)
            {
                done.SetException(e);
            }
        });
        return done.Task.GetAwaiter().GetResult();
    }

    public bool HasInterface(string name) => Run(() => HostInterfaces.Exists(name));

    /// <summary>Gives <paramref name="name"/> an IPv4 address (host order) and prefix and sets it up.</summary>
    public void Configure(string name, uint address, int prefix) => Run(() =>
    {
        HostInterfaces.ConfigureIpv4(name, address, prefix);
        return true;
    });

    public void Dispose()
    {
        _work.CompleteAdding();
        _thread.Join();
        _work.Dispose();
    }

    private void Loop()
    {
        int unshared = HostTap.UnshareNetworkNamespace();
        if (unshared != 0)
        {
            _ready.SetException(new IOException($"unshare(CLONE_NEWNET): {HostTap.DescribeErrno(-unshared)}"));
            return;
        }

        _ready.SetResult();
        foreach (Action a in _work.GetConsumingEnumerable())
        {
            a();
        }
    }
}
