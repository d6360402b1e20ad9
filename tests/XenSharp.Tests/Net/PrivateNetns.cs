using System.Buffers.Binary;
using System.Net.Sockets;
using System.Text;
using XenSharp.Backends.Net;
using XenSharp.IntegrationTests.Support;
using XenSharp.Kvm;

namespace XenSharp.Tests.Net;

/// <summary>
/// A network namespace of the test's own, holding one TAP interface with one address, up. A dedicated thread unshares
/// its network namespace (unshare(CLONE_NEWNET) applies to the calling thread only), opens the TAP there and sets the
/// address with the classic interface ioctls on a socket made in that namespace; nothing outside it is touched, and it
/// goes away with the TAP. The thread stays in the namespace until <see cref="Dispose"/>.
/// </summary>
internal sealed class PrivateNetns : IDisposable
{
    private readonly ManualResetEventSlim _ready = new();
    private readonly ManualResetEventSlim _done = new();
    private readonly Thread _thread;
    private Exception? _error;

    private PrivateNetns(string address, int prefix, bool vnetHeader)
    {
        _thread = new Thread(() => Run(address, prefix, vnetHeader)) { IsBackground = true, Name = "netns" };
        _thread.Start();
        _ready.Wait();
        if (_error is not null)
        {
            _thread.Join();
            throw new InvalidOperationException($"private network namespace: {_error.Message}", _error);
        }
    }

    public TapDevice Tap { get; private set; } = null!;

    public static PrivateNetns Start(string address, int prefix, bool vnetHeader) => new(address, prefix, vnetHeader);

    public void Dispose()
    {
        _done.Set();
        _thread.Join();
    }

    private void Run(string address, int prefix, bool vnetHeader)
    {
        try
        {
            int unshared = HostTap.UnshareNetworkNamespace();
            if (unshared != 0)
            {
                throw new IOException($"unshare(CLONE_NEWNET): {HostTap.DescribeErrno(-unshared)}");
            }

            Tap = TapDevice.Open("xstap%d", vnetHeader);
            HostInterfaces.ConfigureIpv4(Tap.Name, TestFrames.Ip(address), prefix);
        }
        catch (Exception e)
        {
            _error = e;
            Tap?.Dispose();
            _ready.Set();
            return;
        }

        _ready.Set();
        _done.Wait();
    }
}
