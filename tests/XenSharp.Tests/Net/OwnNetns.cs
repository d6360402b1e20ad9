using System.Runtime.ExceptionServices;
using XenSharp.Kvm;
using Xunit;

namespace XenSharp.Tests.Net;

/// <summary>
/// Runs a test's body on a thread of its own that first unshares its network namespace (unshare(CLONE_NEWNET) applies to
/// the calling thread only): TAPs it opens are made there, nothing outside it is touched, and the namespace goes with
/// the thread. The body's exception is the caller's.
/// </summary>
internal static class OwnNetns
{
    public static void Run(Action body)
    {
        Exception? failed = null;
        var t = new Thread(() =>
        {
            try
            {
                int rc = HostTap.UnshareNetworkNamespace();
                Assert.True(rc == 0, $"unshare(CLONE_NEWNET): {HostTap.DescribeErrno(-rc)}");
                body();
            }
            catch (Exception e)
            {
                failed = e;
            }
        }) { Name = "own netns" };
        t.Start();
        t.Join();
        if (failed is not null)
        {
            ExceptionDispatchInfo.Throw(failed);
        }
    }
}
