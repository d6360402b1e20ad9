using XenSharp.Backends;
using Xunit;

namespace XenSharp.Tests.Backends;

public sealed class BackendLoopTests
{
    [Fact]
    public void PostsBeforeAPassCoalesceIntoIt()
    {
        int passes = 0;
        using var loop = new BackendLoop("t", () => passes++, Timeout.InfiniteTimeSpan, ownThread: false);
        Assert.False(loop.RunPending());
        for (int i = 0; i < 1000; i++)
        {
            loop.Post();
        }

        Assert.Equal(0, passes); // posting runs nothing
        Assert.True(loop.RunPending());
        Assert.False(loop.RunPending());
        Assert.Equal(1, passes);
    }

    [Fact]
    public void APostDuringAPassCausesAnotherPass()
    {
        BackendLoop? loop = null;
        int passes = 0;
        loop = new BackendLoop("t", () => { if (passes++ == 0) { loop!.Post(); } }, Timeout.InfiniteTimeSpan, ownThread: false);
        Assert.False(loop.IsPending);
        loop.Post();
        Assert.True(loop.RunPending());
        Assert.True(loop.IsPending);
        Assert.True(loop.RunPending());
        Assert.False(loop.RunPending());
        Assert.Equal(2, passes);
        loop.Dispose();
    }

    [Fact]
    public void PassesRunOnTheLoopsOwnThreadAndNoPostIsLost()
    {
        int caller = Environment.CurrentManagedThreadId;
        int passThread = caller;
        int posts = 0;
        int served = 0;
        using var done = new ManualResetEventSlim();
        using var loop = new BackendLoop("t", () =>
        {
            passThread = Environment.CurrentManagedThreadId;
            if (Volatile.Read(ref served) < Volatile.Read(ref posts))
            {
                Volatile.Write(ref served, Volatile.Read(ref posts));
            }

            if (Volatile.Read(ref served) == 100)
            {
                done.Set();
            }
        }, Timeout.InfiniteTimeSpan);

        for (int i = 0; i < 100; i++)
        {
            Interlocked.Increment(ref posts);
            loop.Post();
        }

        Assert.True(done.Wait(TimeSpan.FromMinutes(2)), "the loop did not serve the last post"); // a hang guard, not a timing
        Assert.NotEqual(caller, passThread);
    }
}
