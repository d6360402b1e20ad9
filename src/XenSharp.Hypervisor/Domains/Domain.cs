using XenSharp.Abi;
using XenSharp.Hypervisor.Logging;
using XenSharp.Hypervisor.Memory;
using XenSharp.Hypervisor.Stub;

namespace XenSharp.Hypervisor.Domains;

/// <summary>
/// A guest domain: its frames (guest memory, shared_info, its private stub pages), its vCPUs and its life-cycle.
/// Invariants: every frame in <see cref="P2m"/> and <see cref="SharedInfo"/> is owned by this domain in the frame
/// table; <see cref="Dispose"/> returns every frame the domain held (a frame another domain still maps through a grant
/// only once that mapping goes). State changes go through <see cref="_lock"/>;
/// the first shutdown or crash wins.
/// </summary>
internal sealed class Domain : IDisposable
{
    private readonly object _lock = new();
    private readonly TaskCompletionSource<DomainState> _ended = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly List<Extent> _extents = new();
    private bool _disposed;

    internal Domain(XenHypervisor hypervisor, ushort id, string name, int vcpus, ulong nrPages, IConsoleSink console)
    {
        Hypervisor = hypervisor;
        Pool = hypervisor.Pool;
        Id = id;
        Name = name;
        Console = console;
        Events = new(this);
        Time = new Time.DomainTime(hypervisor.Clock);
        NrPages = nrPages;
        _maxPages = nrPages;
        Mmu = new Pv.Mmu.DomainMmu(this);
        Exits = hypervisor.CountExits ? new ExitCounts() : null;
        try
        {
            StubPages = DomainStubPages.Create(Pool, hypervisor.Shared, vcpus);
            _extents.Add(StubPages.Frames);
            P2m = new Mfn[nrPages];
            AllocateGuestMemory(nrPages);
            Extent si = Pool.Allocate(1, id) ?? throw new OutOfPoolException(1);
            _extents.Add(si);
            SharedInfo = si.First;
            StubPages.MapSharedInfo(SharedInfo);
            Exits?.CountPortIoInVm(StubPages.PortIoInVm);
            Exits?.CountHypercallsInVm(StubPages.HypercallsInVm);
            Grants = new Grants.GrantTable(this);
            _extents.Add(Grants.Frames);

            // Last: it maps every frame above.
            _directMapped = _extents.ToArray();
            DirectMap dm = DirectMap.Create(Pool, _extents);
            _extents.Add(dm.Tables);
            StubPages.DirectMapL3 = dm.L3;
            Vcpus = new Vcpu[vcpus];
            for (int i = 0; i < vcpus; i++)
            {
                Vcpus[i] = new Vcpu(this, i);
            }
        }
        catch
        {
            FreeFrames();
            throw;
        }
    }

    public XenHypervisor Hypervisor { get; }

    public MachinePool Pool { get; }

    public ushort Id { get; }

    public string Name { get; }

    public IConsoleSink Console { get; }

    public Events.EventChannelTable Events { get; }

    /// <summary>System time as the domain's TSC shows it (vcpu_time_info), and its wall clock.</summary>
    public Time.DomainTime Time { get; }

    public HypervisorLog Log => Hypervisor.Log;

    /// <summary>The domain's exits by reason, when the hypervisor counts them (<see cref="XenHypervisor.CountExits"/>).</summary>
    public ExitCounts? Exits { get; }

    public ulong NrPages { get; }

    private ulong _maxPages;

    /// <summary>
    /// The most frames it may hold (Xen's max_pages; XENMEM_maximum_reservation): increase_reservation and
    /// populate_physmap stop there. At most <see cref="NrPages"/>, what it was built with; set by Domain 0 (xl mem-max).
    /// </summary>
    public ulong MaxPages => Volatile.Read(ref _maxPages);

    /// <summary>Sets <see cref="MaxPages"/>: false above <see cref="NrPages"/> (a domain here never grows past its build).</summary>
    public bool SetMaxPages(ulong pages)
    {
        if (pages > NrPages)
        {
            return false;
        }

        Volatile.Write(ref _maxPages, pages);
        return true;
    }

    /// <summary>Pseudo-physical to machine: index pfn, value the frame. With one extent, mfn = first + pfn.</summary>
    public Mfn[] P2m { get; }

    public Mfn SharedInfo { get; }

    public DomainStubPages StubPages { get; } = null!;

    public Pv.Mmu.DomainMmu Mmu { get; }

    /// <summary>The grant table; its frames are one of <see cref="Extents"/>, so they are mapped and freed with the domain's.</summary>
    public Grants.GrantTable Grants { get; } = null!;

    /// <summary>Other domains' frames this domain's machine maps for its grant host mappings.</summary>
    public Grants.ForeignFrames ForeignFrames { get; } = new();

    public Vcpu[] Vcpus { get; } = [];

    public IReadOnlyList<Extent> Extents => _extents;

    /// <summary>Guest memory extents only (what the guest may map), for the machine's memory slots.</summary>
    public IEnumerable<Extent> GuestExtents => _extents.Where(e => e != StubPages.Frames);

    public ulong VmAssist { get; set; }

    /// <summary>The domain's UUID (XENVER_guest_handle).</summary>
    public Guid Handle { get; } = Guid.NewGuid();

    /// <summary>The reason a guest recorded with SCHEDOP_shutdown_code, reported if it later crashes or shuts down.</summary>
    public ShutdownReason? ShutdownCode { get; set; }

    public DomainState State { get; private set; } = DomainState.Created;

    public ShutdownReason? ShutdownReason { get; private set; }

    public string? CrashReason { get; private set; }

    /// <summary>Completes when the domain shuts down or crashes.</summary>
    public Task<DomainState> Ended => _ended.Task;

    /// <summary>Set by the machine layer: stops every vCPU (kicks running ones).</summary>
    public Action? StopAllVcpus { get; set; }

    /// <summary>Set by the machine layer: starts (or wakes) the thread of a vCPU brought up by VCPUOP_up/initialise.</summary>
    public Func<int, bool>? StartVcpu { get; set; }

    /// <summary>Set by the machine layer: interrupts vCPU <c>id</c> in the guest, or as soon as it enters it (never skipped).</summary>
    public Action<int>? KickVcpu { get; set; }

    private int _pauseCount;

    /// <summary>How many times the domain is paused (Xen's domain pause_count).</summary>
    public int PauseCount
    {
        get
        {
            lock (_lock)
            {
                return _pauseCount;
            }
        }
    }

    /// <summary>
    /// Pauses the domain (Xen's domain_pause; nests: each call needs its <see cref="Unpause"/>). Returns once every
    /// vCPU is outside KVM_RUN with its state consistent (<see cref="VcpuLifecycle.IsQuiescent"/>): running ones are
    /// kicked out and park (runstate offline), blocked ones stay blocked, down ones stay down. Events and timers that
    /// arrive meanwhile are delivered after the last unpause. Not from one of the domain's own vCPUs (it would wait for
    /// itself; Xen forbids it too).
    /// </summary>
    public void Pause()
    {
        if (Vcpus.Contains(Vcpu.Current))
        {
            throw new InvalidOperationException($"{this} cannot pause itself from its own vCPU");
        }

        lock (_lock)
        {
            _pauseCount++;
        }

        foreach (Vcpu v in Vcpus)
        {
            v.Lifecycle.RequestPause();
        }

        WaitForQuiescence(Vcpus);
    }

    /// <summary>Releases one <see cref="Pause"/>; the last lets every vCPU carry on where it was. False if not paused.</summary>
    public bool Unpause()
    {
        lock (_lock)
        {
            if (_pauseCount == 0)
            {
                return false;
            }

            _pauseCount--;
        }

        foreach (Vcpu v in Vcpus)
        {
            v.Lifecycle.ReleasePause();
        }

        return true;
    }

    /// <summary>
    /// Waits until every one of <paramref name="vcpus"/> is quiescent at the same time, kicking the ones that are not
    /// (a kick that lands while a vCPU is between exits is taken at its next entry; kicking again is harmless). Once
    /// paused a vCPU cannot leave quiescence, so one full pass that finds them all quiescent is the answer.
    /// </summary>
    internal void WaitForQuiescence(IReadOnlyList<Vcpu> vcpus)
    {
        while (true)
        {
            bool all = true;
            foreach (Vcpu v in vcpus)
            {
                if (v.Lifecycle.IsQuiescent)
                {
                    continue;
                }

                all = false;
                if (v.Wake.CurrentCount == 0)
                {
                    v.Wake.Release(); // a blocked vCPU parks at once
                }

                KickVcpu?.Invoke(v.Id);
                v.Lifecycle.WaitQuiescent(TimeSpan.FromMilliseconds(50));
            }

            if (all)
            {
                return;
            }
        }
    }

    private Extent[] _directMapped = [];

    /// <summary>Whether the stub reaches <paramref name="mfn"/> through the domain's direct map (frames it had at creation).</summary>
    public bool InDirectMap(Mfn mfn)
    {
        foreach (Extent e in _directMapped)
        {
            if (e.Contains(mfn))
            {
                return true;
            }
        }

        return false;
    }

    public Span<byte> SharedInfoPage => Pool.Frame(SharedInfo);

    /// <summary>
    /// Anchors the domain's clock to a TSC read on its vCPU 0 before it first runs, and publishes vcpu_time_info in
    /// every vcpu_info and the wall clock in shared_info (a guest reads both from its first instruction).
    /// </summary>
    public void StartClock(Time.TscSample sample, ulong tscHz)
    {
        Time.Calibrate(sample, tscHz);
        Time.WriteWallClock(SharedInfoPage);
        foreach (Vcpu v in Vcpus)
        {
            v.PublishTime();
        }
    }

    public void MarkRunning()
    {
        lock (_lock)
        {
            if (State == DomainState.Created)
            {
                State = DomainState.Running;
            }
        }
    }

    /// <summary>The guest asked to stop (sched_op shutdown). Returns false if the domain had already ended.</summary>
    public bool Shutdown(ShutdownReason reason)
    {
        lock (_lock)
        {
            if (State is DomainState.Shutdown or DomainState.Crashed or DomainState.Destroyed)
            {
                return false;
            }

            State = DomainState.Shutdown;
            ShutdownReason = reason;
        }

        Log.Domain(Id, $"shutdown: {reason.ToString().ToLowerInvariant()}");
        End(DomainState.Shutdown);
        return true;
    }

    /// <summary>Crashes this domain only, with a logged reason. Safe from any thread; the first end wins.</summary>
    public bool Crash(string reason)
    {
        lock (_lock)
        {
            if (State is DomainState.Shutdown or DomainState.Crashed or DomainState.Destroyed)
            {
                return false;
            }

            State = DomainState.Crashed;
            CrashReason = reason;
            ShutdownReason = Abi.ShutdownReason.Crash;
        }

        Log.Domain(Id, $"domain crashed: {reason}");
        End(DomainState.Crashed);
        return true;
    }

    private void End(DomainState state)
    {
        foreach (Vcpu v in Vcpus)
        {
            v.Timers.StopAll();
            v.Lifecycle.RequestStop();
        }

        StopAllVcpus?.Invoke();
        _ended.TrySetResult(state);
    }

    public void Dispose()
    {
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            if (State is DomainState.Created or DomainState.Running)
            {
                State = DomainState.Destroyed;
            }
        }

        _ended.TrySetResult(State);
        foreach (Vcpu v in Vcpus)
        {
            v.Timers.StopAll();
            v.Lifecycle.RequestStop();
        }

        Events.Destroy(); // no event may touch shared_info once its frame is freed

        // No grant of ours is mapped from now on, and our mappings of other domains' grants give their references
        // back; frames of ours others still map outlive us (MachinePool.Free).
        Grants.Destroy();
        FreeFrames();
    }

    private void AllocateGuestMemory(ulong nrPages)
    {
        // Prefer one extent; fall back to smaller pieces so a fragmented pool still fits the domain.
        ulong pfn = 0;
        ulong chunk = nrPages;
        while (pfn < nrPages)
        {
            ulong want = Math.Min(chunk, nrPages - pfn);
            Extent? e = Pool.Allocate(want, Id, want >= 512 ? 512UL : 1UL);
            if (e is not { } got)
            {
                if (chunk <= 512)
                {
                    throw new OutOfPoolException(nrPages - pfn);
                }

                chunk /= 2;
                continue;
            }

            _extents.Add(got);
            for (ulong i = 0; i < got.Count; i++)
            {
                P2m[pfn + i] = got.First.Add(i);
                Pool.SetM2p(got.First.Add(i), pfn + i);
            }

            pfn += got.Count;
        }
    }

    private void FreeFrames()
    {
        foreach (Extent e in _extents)
        {
            Pool.Free(e);
        }

        _extents.Clear();
    }

    public override string ToString() => $"d{Id} ({Name})";
}
