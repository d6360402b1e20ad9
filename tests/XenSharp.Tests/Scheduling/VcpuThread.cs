namespace XenSharp.Tests.Scheduling;

/// <summary>A real thread standing in for a vCPU thread, running one call whose result the test reads after joining.</summary>
internal sealed class VcpuThread
{
    private readonly Thread _thread;
    private bool _result;

    public VcpuThread(Func<bool> body)
    {
        _thread = new Thread(() => _result = body()) { IsBackground = true };
        _thread.Start();
    }

    public bool IsCompleted => !_thread.IsAlive;

    /// <summary>Waits for the call to return (false if it has not within the limit) and gives its result.</summary>
    public bool Join(TimeSpan limit, out bool result)
    {
        bool joined = _thread.Join(limit);
        result = _result;
        return joined;
    }
}
