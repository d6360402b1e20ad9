namespace XenSharp.Hypervisor.Domains;

/// <summary>
/// One vCPU's lifecycle: its <see cref="VcpuState"/>, the requests that move it (up/down, pause count, stop) and the
/// only legal transitions (<see cref="IsLegal"/>), all under one private lock; Firecracker's vcpu.rs state machine with
/// Xen's facts (VPF_down, VPF_blocked, pause_count, runstates). Invariants:
/// - the state changes only through <see cref="IsLegal"/> transitions, under <see cref="_lock"/>;
/// - while the pause count is above 0 nothing leaves Offline, Blocked or Paused for Running (only the domain's end
///   does), so a vCPU once <see cref="IsQuiescent"/> stays out of the guest until its last pause is released;
/// - <see cref="IsQuiescent"/> means its thread will not enter KVM_RUN and its state is consistent: the thread never
///   started, has exited, or waits in <see cref="Park"/>/<see cref="ParkBlocked"/> after saving its machine state.
/// Threads: the vCPU's own thread makes every Runnable/Running/Blocked/Paused move (<see cref="EnterRunning"/>,
/// <see cref="TryBlock"/>, <see cref="TryWake"/>, <see cref="Park"/>, <see cref="Exit"/>) and flips
/// <see cref="InGuest"/> around KVM_RUN; another vCPU of the domain brings it up or down (VCPUOP_initialise/up/down:
/// <see cref="Initialise"/>, <see cref="BringUp"/>, <see cref="TakeDown"/>); the domain's controller (Domain.Pause, a
/// Domain 0 thread) changes the pause count and waits for quiescence; any thread ends it (<see cref="RequestStop"/>,
/// on shutdown, crash and destroy). Lock order: this lock is a leaf except that <see cref="Initialise"/> runs its
/// apply step (which takes the domain's MMU lock) under it; nothing calls in here holding the MMU lock.
/// </summary>
internal sealed class VcpuLifecycle
{
    private readonly object _lock = new();
    private volatile VcpuState _state = VcpuState.Offline;
    private volatile bool _inGuest;
    private long _guestEntries;
    private volatile bool _stopped;
    private bool _initialised;
    private volatile bool _up;
    private volatile int _pauseCount;
    private bool _threadStarted;
    private bool _exited;
    private bool _parked;

    /// <summary>The transitions a vCPU may make; every change of <see cref="State"/> is checked against it.</summary>
    public static bool IsLegal(VcpuState from, VcpuState to) => (from, to) switch
    {
        (VcpuState.Offline, VcpuState.Runnable) => true,  // brought up: VCPUOP_up, VGCF_online, the domain's start
        (VcpuState.Runnable, VcpuState.Running) => true,  // its thread goes (back) into the guest
        (VcpuState.Runnable, VcpuState.Paused) => true,   // paused before it ran
        (VcpuState.Runnable, VcpuState.Offline) => true,  // taken down, or the domain ended, before it ran
        (VcpuState.Running, VcpuState.Runnable) => true,  // preempted, or woken: waits for a physical-CPU slot
        (VcpuState.Running, VcpuState.Blocked) => true,   // SCHEDOP_block / SCHEDOP_poll
        (VcpuState.Running, VcpuState.Paused) => true,    // parked by a pause
        (VcpuState.Running, VcpuState.Offline) => true,   // VCPUOP_down, or the domain ended
        (VcpuState.Blocked, VcpuState.Running) => true,   // woken (it then waits for a slot: Running → Runnable)
        (VcpuState.Paused, VcpuState.Running) => true,    // its last pause released
        (VcpuState.Paused, VcpuState.Offline) => true,    // taken down or the domain ended while paused
        _ => false,
    };

    public VcpuState State => _state;

    /// <summary>It has a context (the domain builder for vCPU 0, VCPUOP_initialise for the others).</summary>
    public bool IsInitialised
    {
        get
        {
            lock (_lock)
            {
                return _initialised;
            }
        }
    }

    /// <summary>Not down (Xen: !VPF_down): it runs, or is blocked or paused, or waits for its thread to start.</summary>
    public bool IsUp => _up;

    public int PauseCount => _pauseCount;

    public bool IsPauseRequested => _pauseCount > 0;

    /// <summary>Its domain ended (shutdown, crash, destroy): its thread leaves for good.</summary>
    public bool IsStopRequested => _stopped;

    /// <summary>Inside KVM_RUN: a kick is needed to bring it out (everywhere else it checks for events itself).</summary>
    public bool InGuest => _inGuest;

    /// <summary>How many times the vCPU has entered the guest: counted before <see cref="InGuest"/> turns true.</summary>
    public long GuestEntries => Volatile.Read(ref _guestEntries);

    /// <summary>Out of the guest for as long as it is paused, its state saved (see the class invariants).</summary>
    public bool IsQuiescent
    {
        get
        {
            lock (_lock)
            {
                return QuiescentLocked;
            }
        }
    }

    private bool QuiescentLocked => !_threadStarted || _exited || _parked;

    /// <summary>VCPUOP_initialise: runs <paramref name="apply"/> (checks, then the state) once; -EEXIST after the first success.</summary>
    public int Initialise(Func<int> apply, bool online, out bool broughtUp)
    {
        broughtUp = false;
        lock (_lock)
        {
            if (_initialised)
            {
                return -Abi.XenErrno.EEXIST;
            }

            int rc = apply();
            if (rc != 0)
            {
                return rc;
            }

            _initialised = true;
            if (online)
            {
                broughtUp = BringUpLocked();
            }

            return 0;
        }
    }

    /// <summary>The domain builder gave it its first context and it is up (vCPU 0).</summary>
    public void MarkInitialisedAndUp()
    {
        lock (_lock)
        {
            _initialised = true;
            BringUpLocked();
        }
    }

    /// <summary>VCPUOP_up: -EINVAL without a context; 0 if it was up already, 1 if this brought it up (start its thread).</summary>
    public int BringUp()
    {
        lock (_lock)
        {
            if (!_initialised)
            {
                return -Abi.XenErrno.EINVAL;
            }

            return BringUpLocked() ? 1 : 0;
        }
    }

    private bool BringUpLocked()
    {
        if (_up)
        {
            return false;
        }

        _up = true;
        if (_state == VcpuState.Offline && !_exited)
        {
            MoveLocked(VcpuState.Runnable);
        }

        Monitor.PulseAll(_lock);
        return true;
    }

    /// <summary>VCPUOP_down: false if it was down already. Its thread leaves the guest and parks (it must be kicked).</summary>
    public bool TakeDown()
    {
        lock (_lock)
        {
            if (!_up)
            {
                return false;
            }

            _up = false;
            if (_state == VcpuState.Runnable)
            {
                MoveLocked(VcpuState.Offline);
            }

            Monitor.PulseAll(_lock);
            return true;
        }
    }

    /// <summary>Its thread is about to start (the starter calls this before it does): from now on it counts as running until it parks.</summary>
    public void ThreadStarted()
    {
        lock (_lock)
        {
            _threadStarted = true;
        }
    }

    /// <summary>Own thread: Runnable → Running, before it first enters the guest.</summary>
    public bool EnterRunning()
    {
        lock (_lock)
        {
            if (_stopped || !_up || _pauseCount > 0 || _state != VcpuState.Runnable)
            {
                return false;
            }

            MoveLocked(VcpuState.Running);
            return true;
        }
    }

    /// <summary>Own thread, around KVM_RUN. Entering is a full barrier: an event raised after it sees the flag and kicks.</summary>
    public void SetInGuest(bool inGuest)
    {
        if (inGuest)
        {
            Interlocked.Increment(ref _guestEntries);
        }

        _inGuest = inGuest;
        Interlocked.MemoryBarrier();
    }

    /// <summary>Own thread: Running → Runnable, waiting for a physical-CPU slot (the scheduler's run queue).</summary>
    public void Deschedule()
    {
        lock (_lock)
        {
            if (_state == VcpuState.Running)
            {
                MoveLocked(VcpuState.Runnable);
            }
        }
    }

    /// <summary>Own thread: Runnable → Running, holding a slot again (a pause that came meanwhile parks it next).</summary>
    public void Reschedule()
    {
        lock (_lock)
        {
            if (_state == VcpuState.Runnable)
            {
                MoveLocked(VcpuState.Running);
            }
        }
    }

    /// <summary>Own thread: SCHEDOP_block/poll, Running → Blocked.</summary>
    public void Block()
    {
        lock (_lock)
        {
            MoveLocked(VcpuState.Blocked);
        }
    }

    /// <summary>
    /// Own thread: Blocked → Running. Refused while paused (a blocked vCPU stays blocked through a pause; what woke it
    /// is seen after), unless the domain ended.
    /// </summary>
    public bool TryWake()
    {
        lock (_lock)
        {
            if (_state != VcpuState.Blocked)
            {
                return true;
            }

            if (_pauseCount > 0 && !_stopped)
            {
                return false;
            }

            MoveLocked(VcpuState.Running);
            return true;
        }
    }

    /// <summary>
    /// Own thread, out of the guest with its machine state saved: parks while it is down or paused (Running or
    /// Runnable → Offline or Paused), and returns once it is up and unpaused (→ Running) or the domain ended (false).
    /// </summary>
    public bool Park()
    {
        lock (_lock)
        {
            while (!_stopped && (!_up || _pauseCount > 0))
            {
                VcpuState want = !_up ? VcpuState.Offline : VcpuState.Paused;
                if (_state != want && _state is VcpuState.Running or VcpuState.Runnable or VcpuState.Paused)
                {
                    MoveLocked(want);
                }

                _parked = true;
                Monitor.PulseAll(_lock);
                Monitor.Wait(_lock);
            }

            _parked = false;
            if (_stopped)
            {
                return false;
            }

            if (_state == VcpuState.Offline)
            {
                MoveLocked(VcpuState.Runnable);
            }

            if (_state != VcpuState.Running)
            {
                MoveLocked(VcpuState.Running);
            }

            return true;
        }
    }

    /// <summary>Own thread, blocked, its machine state saved: waits (still Blocked) while paused and the domain lives.</summary>
    public void ParkBlocked()
    {
        lock (_lock)
        {
            while (!_stopped && _pauseCount > 0)
            {
                _parked = true;
                Monitor.PulseAll(_lock);
                Monitor.Wait(_lock);
            }

            _parked = false;
        }
    }

    /// <summary>Own thread, last thing: the thread is gone; the vCPU is Offline for good.</summary>
    public void Exit()
    {
        lock (_lock)
        {
            _exited = true;
            _parked = false;
            if (_state == VcpuState.Blocked)
            {
                MoveLocked(VcpuState.Running);
            }

            if (_state != VcpuState.Offline)
            {
                MoveLocked(VcpuState.Offline);
            }

            Monitor.PulseAll(_lock);
        }
    }

    /// <summary>The domain ended: every wait returns and the thread leaves.</summary>
    public void RequestStop()
    {
        lock (_lock)
        {
            _stopped = true;
            Monitor.PulseAll(_lock);
        }
    }

    /// <summary>For tests that stop a vCPU for one hypercall and carry on.</summary>
    internal void ClearStop()
    {
        lock (_lock)
        {
            _stopped = false;
        }
    }

    /// <summary>One more pause (nests as Xen's pause_count). The caller kicks the vCPU and waits for <see cref="IsQuiescent"/>.</summary>
    public void RequestPause()
    {
        lock (_lock)
        {
            _pauseCount++;
        }
    }

    /// <summary>Releases one pause; false if it was not paused. The last one lets it run on.</summary>
    public bool ReleasePause()
    {
        lock (_lock)
        {
            if (_pauseCount == 0)
            {
                return false;
            }

            _pauseCount--;
            Monitor.PulseAll(_lock);
            return true;
        }
    }

    /// <summary>Waits up to <paramref name="timeout"/> for <see cref="IsQuiescent"/>.</summary>
    public bool WaitQuiescent(TimeSpan timeout)
    {
        long deadline = Environment.TickCount64 + (long)timeout.TotalMilliseconds;
        lock (_lock)
        {
            // Every change of this object pulses; a pulse for another change is not the answer: wait on.
            while (!QuiescentLocked)
            {
                long left = deadline - Environment.TickCount64;
                if (left <= 0)
                {
                    break;
                }

                Monitor.Wait(_lock, (int)Math.Min(left, int.MaxValue));
            }

            return QuiescentLocked;
        }
    }

    private void MoveLocked(VcpuState to)
    {
        if (!IsLegal(_state, to))
        {
            throw new InvalidOperationException($"illegal vCPU state change {_state} -> {to}");
        }

        _state = to;
    }
}
