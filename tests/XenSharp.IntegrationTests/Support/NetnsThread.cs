using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net.Sockets;
using System.Text;
using XenSharp.Kvm;

namespace XenSharp.IntegrationTests.Support;

/// <summary>
/// A thread in a network namespace of the test's own (unshare(CLONE_NEWNET) applies to the calling thread only), which
/// runs what it is given: a process started there (fork copies the thread's namespace) and a socket made there live in
/// the namespace, whatever thread uses them later. Interfaces are configured with the classic ioctls on a socket of the
/// namespace. Nothing outside it is touched; it goes away with the last process and socket in it.
/// </summary>
public sealed class NetnsThread : IDisposable
{

    private readonly BlockingCollection<Action> _work = new();
    private readonly Thread _thread;
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private NetnsThread()
    {
        _thread = new Thread(Loop) { IsBackground = true, Name = "netns" };
        _thread.Start();
    }

    /// <summary>Starts the thread and unshares its network namespace (needs root: CAP_SYS_ADMIN).</summary>
    public static async Task<NetnsThread> StartAsync()
    {
        var t = new NetnsThread();
        try
        {
            await t._ready.Task;
            return t;
        }
        catch
        {
            t.Dispose();
            throw;
        }
    }

    /// <summary>Runs <paramref name="f"/> on the namespace's thread.</summary>
    public Task<T> Run<T>(Func<T> f)
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
        return done.Task;
    }

    /// <summary>The namespace as /proc names it ("net:[4026532...]"), to compare with a process's.</summary>
    public Task<string?> Id() => Run(() => new FileInfo("/proc/thread-self/ns/net").LinkTarget);

    /// <summary>Whether interface <paramref name="name"/> exists in the namespace.</summary>
    public Task<bool> HasInterface(string name) => Run(() => HostInterfaces.Exists(name));

    /// <summary>Gives interface <paramref name="name"/> an IPv4 address (host order) and prefix and sets it up.</summary>
    public Task<bool> Configure(string name, uint address, int prefix) => Run(() =>
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
