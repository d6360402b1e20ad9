using System.Runtime.InteropServices;
using XenSharp.Kvm.Native;

namespace XenSharp.Kvm;

/// <summary>
/// A thread's sleep until a CLOCK_MONOTONIC deadline with the host kernel's own precision (a timerfd, tens of
/// microseconds late instead of the whole milliseconds of Monitor.Wait), which another thread can cut short
/// (an eventfd). One waiting thread at a time; <see cref="Wake"/> from any thread.
/// </summary>
public sealed unsafe class PreciseWaiter : IDisposable
{
    private readonly FileDescriptor _timer;
    private readonly FileDescriptor _wake;

    private PreciseWaiter(FileDescriptor timer, FileDescriptor wake)
    {
        _timer = timer;
        _wake = wake;
    }

    /// <summary>A waiter, or null where the host has no timerfd/eventfd (the caller falls back to Monitor.Wait).</summary>
    public static PreciseWaiter? TryCreate()
    {
        int t = LibC.TimerfdCreate(LibC.CLOCK_MONOTONIC, LibC.TFD_CLOEXEC);
        if (t < 0)
        {
            return null;
        }

        int e = LibC.Eventfd(0, LibC.EFD_CLOEXEC);
        if (e < 0)
        {
            LibC.Close(t);
            return null;
        }

        return new PreciseWaiter(new FileDescriptor(t), new FileDescriptor(e));
    }

    /// <summary>
    /// Sleeps until CLOCK_MONOTONIC reaches <paramref name="deadlineNs"/> (long.MaxValue: no deadline) or
    /// <see cref="Wake"/> is called; returns false if the wait failed (the caller should fall back).
    /// </summary>
    public bool WaitUntil(long deadlineNs)
    {
        long* spec = stackalloc long[4];
        spec[0] = 0;
        spec[1] = 0;
        long d = deadlineNs == long.MaxValue ? 0 : Math.Max(deadlineNs, 1); // 0 disarms: an infinite wait
        spec[2] = d / 1_000_000_000;
        spec[3] = d % 1_000_000_000;
        if (LibC.TimerfdSettime(_timer, LibC.TFD_TIMER_ABSTIME, spec, null) != 0)
        {
            return false;
        }

        bool added = false, added2 = false;
        try
        {
            _timer.DangerousAddRef(ref added);
            _wake.DangerousAddRef(ref added2);
            int* fds = stackalloc int[4]; // two struct pollfd {int fd; short events; short revents}
            fds[0] = (int)_timer.DangerousGetHandle();
            fds[1] = LibC.POLLIN;
            fds[2] = (int)_wake.DangerousGetHandle();
            fds[3] = LibC.POLLIN;
            int rc = LibC.Poll(fds, 2, -1);
            if (rc < 0)
            {
                return Marshal.GetLastPInvokeError() == ErrnoNames.EINTR;
            }

            ulong drained;
            if ((((short*)fds)[3] & LibC.POLLIN) != 0)
            {
                LibC.Read(_timer, &drained, 8);
            }

            if ((((short*)fds)[7] & LibC.POLLIN) != 0)
            {
                LibC.Read(_wake, &drained, 8);
            }

            return true;
        }
        finally
        {
            if (added)
            {
                _timer.DangerousRelease();
            }

            if (added2)
            {
                _wake.DangerousRelease();
            }
        }
    }

    /// <summary>Ends the current (or the next) wait early.</summary>
    public void Wake()
    {
        ulong one = 1;
        LibC.Write(_wake, &one, 8);
    }

    public void Dispose()
    {
        _timer.Dispose();
        _wake.Dispose();
    }
}
