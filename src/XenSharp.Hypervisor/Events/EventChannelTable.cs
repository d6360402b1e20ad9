using XenSharp.Abi;
using XenSharp.Hypervisor.Domains;

namespace XenSharp.Hypervisor.Events;

/// <summary>
/// A domain's event channels, following Xen's event_channel.c: ports are allocated lowest-free first, port 0 is
/// reserved, and a port is valid (may be named in send, close, status, unmask, bind_vcpu) once the 64-port bucket
/// holding it exists — buckets are added as allocation reaches them, as Xen's valid_evtchns grows. Allocation stops at
/// <see cref="MaxPort"/> (libxl's max_event_channels, 1023 by default) and never passes the ABI's limit: 4096 ports
/// with 2-level, 2^17 with FIFO.
/// <para>
/// Where a port's pending and masked state lives is the ABI's business (<see cref="IEventAbi"/>): every domain starts
/// with <see cref="TwoLevelEvents"/> and switches to <see cref="FifoEvents"/> on its first successful
/// EVTCHNOP_init_control (bound ports keep their pending state and get the default priority, as Xen's setup_ports);
/// EVTCHNOP_reset and destruction switch it back and release the FIFO pages. A FIFO port may be bound before the
/// event-array page for it exists; a raise meanwhile is remembered and delivered when EVTCHNOP_expand_array adds the
/// page (Xen's evtchn->pending).
/// </para>
/// <para>
/// Locking: <see cref="_lock"/> guards every channel, the VIRQ map, <see cref="_abi"/> and <see cref="_dead"/>, and
/// is held for every call into the ABI, so nothing writes this domain's shared_info or FIFO pages after
/// <see cref="Destroy"/> (which runs before the domain's frames are freed). The FIFO ABI takes the domain's MMU lock
/// inside it to hold and release pages; the MMU never calls back into event channels. Operations spanning two
/// domains (bind_interdomain, closing an interdomain port) take both tables' locks in domain-id order; send never
/// holds two: it reads the peer under its own lock, releases it, then raises the peer's port only if that port still
/// points back (<see cref="RaiseFromPeer"/>). A host sink (<see cref="IEventSink"/>) is always called with no table
/// lock held, so a backend may call back in.
/// The guest changes the shared bits concurrently; the ABIs use interlocked operations on them and no unbounded loop.
/// </para>
/// Wake-ups: whenever a port becomes pending, the vCPU it notifies has <see cref="Vcpu.Wake"/> released, so
/// SCHEDOP_block (and a poller) re-checks. Upcall delivery into a running vCPU is the stub's job, not done here.
/// </summary>
internal sealed class EventChannelTable
{
    public const int BucketPorts = 64;

    /// <summary>No ABI has more ports than FIFO's 2^17.</summary>
    public const int MaxPorts = EventFifoLayout.NrChannels;
    public const int DefaultMaxPort = 1023;

    private readonly object _lock = new();
    private readonly Domain _domain;
    private readonly Channel[]?[] _buckets = new Channel[MaxPorts / BucketPorts][];
    private readonly TwoLevelEvents _twoLevel;
    private IEventAbi _abi;
    private int[]? _virqPorts; // [vcpu * Virq.Count + virq] = port, 0 = unbound
    private int _valid;
    private bool _dead;
    private int _maxPort = DefaultMaxPort;

    public EventChannelTable(Domain domain)
    {
        _domain = domain;
        _twoLevel = new TwoLevelEvents(domain);
        _abi = _twoLevel;
        _buckets[0] = new Channel[BucketPorts];
        _buckets[0]![0].State = ChannelState.Reserved;
        _valid = BucketPorts;
    }

    /// <summary>
    /// The highest port allocation may hand out: xl's max_event_channels (libxl passes it as Xen's max_evtchn_port),
    /// clamped to FIFO's 2^17 - 1; allocation also stops at the ABI in use's limit (2-level: 4095).
    /// </summary>
    public int MaxPort
    {
        get
        {
            lock (_lock)
            {
                return _maxPort;
            }
        }

        set
        {
            lock (_lock)
            {
                _maxPort = Math.Clamp(value, 0, MaxPorts - 1);
            }
        }
    }

    public ushort DomainId => _domain.Id;

    /// <summary>Whether the domain has switched to the FIFO ABI.</summary>
    public bool UsesFifo
    {
        get
        {
            lock (_lock)
            {
                return _abi is FifoEvents;
            }
        }
    }

    /// <summary>EVTCHNOP_alloc_unbound in this domain: a port that <paramref name="remoteDomain"/> may bind. Returns the port or -errno.</summary>
    public int AllocUnbound(ushort remoteDomain)
    {
        if (remoteDomain == EventChannelOp.DomidSelf)
        {
            remoteDomain = _domain.Id;
        }

        lock (_lock)
        {
            int port = AllocatePort();
            if (port < 0)
            {
                return port;
            }

            ref Channel c = ref At(port);
            c.State = ChannelState.Unbound;
            c.RemoteDomain = remoteDomain;
            _abi.InitPort(ref c);
            return port;
        }
    }

    /// <summary>
    /// EVTCHNOP_bind_interdomain: connects a new local port to <paramref name="remotePort"/> of
    /// <paramref name="remoteDomain"/>, which must be unbound and offered to this domain; the new local port is set
    /// pending (notifications sent to the unbound port were dropped). Returns the local port or -errno.
    /// </summary>
    public int BindInterdomain(ushort remoteDomain, uint remotePort)
    {
        if (remoteDomain == EventChannelOp.DomidSelf)
        {
            remoteDomain = _domain.Id;
        }

        EventChannelTable? remote = remoteDomain == _domain.Id ? this : FindTable(remoteDomain);
        if (remote is null)
        {
            if (remoteDomain != EventChannelOp.BackendDomain)
            {
                return -XenErrno.ESRCH;
            }

            // Domain 0 exists (the host's backends act as it) but offers guests no unbound ports to bind.
            lock (_lock)
            {
                int p = AllocatePort();
                return p < 0 ? p : -XenErrno.EINVAL;
            }
        }

        (object first, object second) = LockOrder(this, remote);
        lock (first)
        {
            lock (second)
            {
                int lport = AllocatePort();
                if (lport < 0)
                {
                    return lport;
                }

                if (remote._dead || !remote.IsValid(remotePort))
                {
                    return -XenErrno.EINVAL;
                }

                int rport = (int)remotePort;
                ref Channel r = ref remote.At(rport);
                if (r.State != ChannelState.Unbound || r.RemoteDomain != _domain.Id)
                {
                    return -XenErrno.EINVAL;
                }

                ref Channel l = ref At(lport);
                l.State = ChannelState.Interdomain;
                l.RemoteDomain = remote._domain.Id;
                l.RemotePort = rport;
                l.Peer = remote;
                _abi.InitPort(ref l);

                r.State = ChannelState.Interdomain;
                r.RemoteDomain = _domain.Id;
                r.RemotePort = lport;
                r.Peer = this;

                RaiseLocked(lport, l.NotifyVcpu);
                return lport;
            }
        }
    }

    /// <summary>EVTCHNOP_bind_virq. Returns the port or -errno.</summary>
    public int BindVirq(uint virq, uint vcpu)
    {
        if (virq >= Virq.Count)
        {
            return -XenErrno.EINVAL;
        }

        VirqScope scope = Virq.ScopeOf((int)virq);
        if (scope != VirqScope.Vcpu && vcpu != 0)
        {
            return -XenErrno.EINVAL;
        }

        if (vcpu >= (uint)_domain.Vcpus.Length)
        {
            return -XenErrno.ENOENT;
        }

        lock (_lock)
        {
            if (scope == VirqScope.Global)
            {
                return -XenErrno.EBUSY; // global VIRQs go to the hardware domain, never to a guest here
            }

            int[] map = VirqPorts();
            int slot = ((int)vcpu * Virq.Count) + (int)virq;
            if (map[slot] != 0)
            {
                return -XenErrno.EEXIST;
            }

            int port = AllocatePort();
            if (port < 0)
            {
                return port;
            }

            ref Channel c = ref At(port);
            c.State = ChannelState.Virq;
            c.NotifyVcpu = (int)vcpu;
            c.VirqNumber = (int)virq;
            _abi.InitPort(ref c);
            map[slot] = port;
            return port;
        }
    }

    /// <summary>EVTCHNOP_bind_ipi: a port that notifies <paramref name="vcpu"/> when this domain sends on it. Returns the port or -errno.</summary>
    public int BindIpi(uint vcpu)
    {
        if (vcpu >= (uint)_domain.Vcpus.Length)
        {
            return -XenErrno.ENOENT;
        }

        lock (_lock)
        {
            int port = AllocatePort();
            if (port < 0)
            {
                return port;
            }

            ref Channel c = ref At(port);
            c.State = ChannelState.Ipi;
            c.NotifyVcpu = (int)vcpu;
            _abi.InitPort(ref c);
            return port;
        }
    }

    /// <summary>EVTCHNOP_bind_vcpu: which vCPU an unbound, interdomain or non-per-vCPU VIRQ port notifies. 0 or -errno.</summary>
    public int BindVcpu(uint port, uint vcpu)
    {
        if (vcpu >= (uint)_domain.Vcpus.Length)
        {
            return -XenErrno.ENOENT;
        }

        lock (_lock)
        {
            if (!IsValid(port))
            {
                return -XenErrno.EINVAL;
            }

            ref Channel c = ref At((int)port);
            switch (c.State)
            {
                case ChannelState.Virq when Virq.ScopeOf(c.VirqNumber) != VirqScope.Vcpu:
                case ChannelState.Unbound:
                case ChannelState.Interdomain:
                    c.NotifyVcpu = (int)vcpu;
                    return 0;
                default:
                    return -XenErrno.EINVAL;
            }
        }
    }

    /// <summary>EVTCHNOP_send. Unbound ports drop the notification (0); free, reserved and VIRQ ports are -EINVAL.</summary>
    public int Send(uint port)
    {
        EventChannelTable? peer = null;
        IEventSink? sink = null;
        int remotePort = 0;
        lock (_lock)
        {
            if (!IsValid(port))
            {
                return -XenErrno.EINVAL;
            }

            ref Channel c = ref At((int)port);
            switch (c.State)
            {
                case ChannelState.Interdomain when c.Host is { } host:
                    sink = host.Sink;
                    break;
                case ChannelState.Interdomain when c.Peer == this:
                    RaiseLocked(c.RemotePort, At(c.RemotePort).NotifyVcpu);
                    return 0;
                case ChannelState.Interdomain:
                    peer = c.Peer;
                    remotePort = c.RemotePort;
                    break;
                case ChannelState.Ipi:
                    RaiseLocked((int)port, c.NotifyVcpu);
                    return 0;
                case ChannelState.Unbound:
                    return 0; // silently dropped, as Xen does
                default:
                    return -XenErrno.EINVAL;
            }
        }

        sink?.Notify();
        peer?.RaiseFromPeer(remotePort, this, (int)port);
        return 0;
    }

    /// <summary>EVTCHNOP_close: frees the port (its pending bit cleared, its vCPU reset to 0); an interdomain peer's port becomes unbound. 0 or -errno.</summary>
    public int Close(uint port)
    {
        while (true)
        {
            EventChannelTable? peer;
            lock (_lock)
            {
                if (!IsValid(port))
                {
                    return -XenErrno.EINVAL;
                }

                ref Channel c = ref At((int)port);
                if (c.State != ChannelState.Interdomain || c.Peer is null || c.Peer == this)
                {
                    return CloseLocked((int)port);
                }

                peer = c.Peer;
            }

            // The port has a peer in another domain: both tables must be locked, in domain-id order.
            (object first, object second) = LockOrder(this, peer);
            lock (first)
            {
                lock (second)
                {
                    ref Channel c = ref At((int)port);
                    if (c.State == ChannelState.Interdomain && c.Peer != peer && c.Peer != this && c.Peer is not null)
                    {
                        return -XenErrno.EINVAL; // closed and re-bound to someone else meanwhile, as Xen answers
                    }

                    if (c.State != ChannelState.Interdomain || c.Peer == peer)
                    {
                        return CloseLocked((int)port);
                    }
                }
            }
        }
    }

    /// <summary>EVTCHNOP_status for one of this domain's ports. 0 or -errno.</summary>
    public int Status(uint port, out EventChannelStatus status)
    {
        status = default;
        lock (_lock)
        {
            if (!IsValid(port))
            {
                return -XenErrno.EINVAL;
            }

            Channel c = At((int)port);
            uint vcpu = (uint)c.NotifyVcpu;
            status = c.State switch
            {
                ChannelState.Unbound => new EventChannelStatus(EventChannelStatusCode.Unbound, vcpu, c.RemoteDomain),
                ChannelState.Interdomain => new EventChannelStatus(EventChannelStatusCode.Interdomain, vcpu, c.RemoteDomain, (uint)c.RemotePort),
                ChannelState.Virq => new EventChannelStatus(EventChannelStatusCode.Virq, vcpu, Virq: (uint)c.VirqNumber),
                ChannelState.Ipi => new EventChannelStatus(EventChannelStatusCode.Ipi, vcpu),
                ChannelState.Pirq => new EventChannelStatus(EventChannelStatusCode.Pirq, vcpu),
                _ => new EventChannelStatus(EventChannelStatusCode.Closed, vcpu),
            };
            return 0;
        }
    }

    /// <summary>EVTCHNOP_unmask: clears the mask bit and re-raises the upcall if the port is pending. Any valid port. 0 or -errno.</summary>
    public int Unmask(uint port)
    {
        lock (_lock)
        {
            if (!IsValid(port))
            {
                return -XenErrno.EINVAL;
            }

            if (_dead)
            {
                return 0;
            }

            ref Channel c = ref At((int)port);
            Vcpu v = _domain.Vcpus[c.NotifyVcpu];
            if (_abi.Unmask(v, (int)port, ref c))
            {
                v.Kick(interrupt: true);
            }

            return 0;
        }
    }

    /// <summary>EVTCHNOP_reset of this domain: closes every port; a FIFO domain lets go of its pages and is 2-level again.</summary>
    public void Reset()
    {
        int valid;
        lock (_lock)
        {
            valid = _valid;
        }

        for (int port = 1; port < valid; port++)
        {
            Close((uint)port);
        }

        lock (_lock)
        {
            if (_abi is FifoEvents fifo)
            {
                fifo.Release();
                _abi = _twoLevel;
            }
        }
    }

    /// <summary>
    /// EVTCHNOP_init_control (Xen's evtchn_fifo_init_control): registers vCPU <paramref name="vcpu"/>'s FIFO control
    /// block at <paramref name="offset"/> in frame <paramref name="gfn"/>. The first success switches the domain to FIFO;
    /// a failure leaves the ABI as it was (the fix for XSA-188). 0 or -errno: -ENOENT no such vCPU; -EINVAL for an
    /// offset that is not 8-aligned or lets the block cross the page, a frame that is not the domain's writable RAM,
    /// or a vCPU that already has a control block.
    /// </summary>
    public int InitControl(ulong gfn, uint offset, uint vcpu)
    {
        if (vcpu >= (uint)_domain.Vcpus.Length)
        {
            return -XenErrno.ENOENT;
        }

        if (offset > Memory.Mfn.PageSize - EventFifoLayout.ControlBlockSize || (offset & 7) != 0)
        {
            return -XenErrno.EINVAL;
        }

        lock (_lock)
        {
            if (_dead)
            {
                return -XenErrno.EINVAL;
            }

            if (_abi is FifoEvents fifo)
            {
                return fifo.MapControlBlock((int)vcpu, gfn, (int)offset);
            }

            var created = new FifoEvents(_domain);
            int rc = created.MapControlBlock((int)vcpu, gfn, (int)offset);
            if (rc != 0)
            {
                created.Release();
                return rc;
            }

            // Xen's setup_ports: every port bound so far keeps its 2-level pending bit (delivered once its event word
            // exists) and gets the default priority.
            Span<byte> sharedInfo = _domain.SharedInfoPage;
            int ports = Math.Min(_valid, TwoLevelEvents.MaxPorts);
            for (int port = 1; port < ports; port++)
            {
                ref Channel c = ref At(port);
                c.FifoPending = TwoLevelEvents.IsPendingIn(sharedInfo, port);
                c.Priority = EventFifoLayout.PriorityDefault;
            }

            _abi = created;
            return 0;
        }
    }

    /// <summary>
    /// EVTCHNOP_expand_array: one more event-array page (1024 ports); raises that arrived for those ports before are
    /// delivered now. 0 or -errno: -EOPNOTSUPP before FIFO is in use, -ENOSPC past 128 pages, -EINVAL for a bad frame.
    /// </summary>
    public int ExpandArray(ulong gfn)
    {
        lock (_lock)
        {
            if (_abi is not FifoEvents fifo || _dead)
            {
                return -XenErrno.EOPNOTSUPP;
            }

            int first = fifo.PortCount;
            int rc = fifo.AddArrayPage(gfn);
            if (rc != 0)
            {
                return rc;
            }

            for (int port = first; port < fifo.PortCount && port < _valid; port++)
            {
                ref Channel c = ref At(port);
                if (c.FifoPending)
                {
                    c.FifoPending = false;
                    RaiseLocked(port, c.NotifyVcpu);
                }
            }

            return 0;
        }
    }

    /// <summary>EVTCHNOP_set_priority. 0 or -errno: -EINVAL bad port or priority, -ENOSYS with 2-level, -EACCES for a port that is not bound.</summary>
    public int SetPriority(uint port, uint priority)
    {
        lock (_lock)
        {
            if (!IsValid(port))
            {
                return -XenErrno.EINVAL;
            }

            if (!_abi.HasPriorities)
            {
                return -XenErrno.ENOSYS;
            }

            ref Channel c = ref At((int)port);
            if (c.State <= ChannelState.Reserved)
            {
                return -XenErrno.EACCES;
            }

            return _abi.SetPriority(ref c, priority);
        }
    }

    /// <summary>Raises a VIRQ the way Xen's send_guest_vcpu_virq / send_guest_global_virq do; false if it is not bound.</summary>
    public bool SendVirq(Vcpu vcpu, int virq)
    {
        if ((uint)virq >= Virq.Count || vcpu.Domain != _domain)
        {
            return false;
        }

        bool perVcpu = Virq.ScopeOf(virq) == VirqScope.Vcpu;
        lock (_lock)
        {
            if (_virqPorts is not { } map)
            {
                return false;
            }

            int port = map[((perVcpu ? vcpu.Id : 0) * Virq.Count) + virq];
            if (port == 0)
            {
                return false;
            }

            RaiseLocked(port, perVcpu ? vcpu.Id : At(port).NotifyVcpu);
            return true;
        }
    }

    /// <summary>Whether a port's pending bit is set (for SCHEDOP_poll); false for ports that are not valid.</summary>
    public bool IsPending(uint port)
    {
        lock (_lock)
        {
            return IsValid(port) && !_dead && _abi.IsPending((int)port);
        }
    }

    /// <summary>Xen's evtchn_port_poll: 1 if the port is pending, 0 if not, -EINVAL if it is not a valid port.</summary>
    public int PollPort(uint port)
    {
        lock (_lock)
        {
            if (!IsValid(port) || _dead)
            {
                return -XenErrno.EINVAL;
            }

            return _abi.IsPending((int)port) ? 1 : 0;
        }
    }

    /// <summary>
    /// Connects a host backend (acting as domain 0) to a port this domain allocated unbound for domain 0, as xenconsoled
    /// binds the console port: the port becomes interdomain (status reports remote domain 0, remote port = the same
    /// number). Returns null if the port is not such an unbound port.
    /// </summary>
    public HostEventChannel? BindHost(int port, IEventSink sink)
    {
        lock (_lock)
        {
            if (_dead || !IsValid((uint)port))
            {
                return null;
            }

            ref Channel c = ref At(port);
            if (c.State != ChannelState.Unbound || c.RemoteDomain != EventChannelOp.BackendDomain)
            {
                return null;
            }

            var host = new HostEventChannel(this, port, sink);
            c.State = ChannelState.Interdomain;
            c.RemotePort = port;
            c.Host = host;
            return host;
        }
    }

    /// <summary>Closes every port and stops all further shared_info writes; the domain calls this before freeing its frames.</summary>
    internal void Destroy()
    {
        lock (_lock)
        {
            _dead = true;
        }

        Reset();
    }

    internal bool RaiseFromHost(HostEventChannel host)
    {
        lock (_lock)
        {
            if (!IsValid((uint)host.Port))
            {
                return false;
            }

            ref Channel c = ref At(host.Port);
            if (c.State != ChannelState.Interdomain || c.Host != host)
            {
                return false;
            }

            RaiseLocked(host.Port, c.NotifyVcpu);
            return true;
        }
    }

    internal bool IsBound(HostEventChannel host)
    {
        lock (_lock)
        {
            return IsValid((uint)host.Port) && At(host.Port) is { State: ChannelState.Interdomain } c && c.Host == host;
        }
    }

    /// <summary>The host side closes its end: the guest's port goes back to unbound (remote domain 0).</summary>
    internal void UnbindHost(HostEventChannel host)
    {
        lock (_lock)
        {
            if (!IsValid((uint)host.Port))
            {
                return;
            }

            ref Channel c = ref At(host.Port);
            if (c.State == ChannelState.Interdomain && c.Host == host)
            {
                c.State = ChannelState.Unbound;
                c.RemoteDomain = EventChannelOp.BackendDomain;
                c.RemotePort = 0;
                c.Host = null;
            }
        }
    }

    /// <summary>A peer domain sent on its end: raise <paramref name="port"/> only if it still points back to that end.</summary>
    private void RaiseFromPeer(int port, EventChannelTable from, int fromPort)
    {
        lock (_lock)
        {
            if (!IsValid((uint)port))
            {
                return;
            }

            ref Channel c = ref At(port);
            if (c.State == ChannelState.Interdomain && c.Peer == from && c.RemotePort == fromPort)
            {
                RaiseLocked(port, c.NotifyVcpu);
            }
        }
    }

    /// <summary>Closes a port that has no peer in another domain, or whose peer's table is also locked by the caller.</summary>
    private int CloseLocked(int port)
    {
        ref Channel c = ref At(port);
        switch (c.State)
        {
            case ChannelState.Free:
            case ChannelState.Reserved:
                return -XenErrno.EINVAL;
            case ChannelState.Virq:
            {
                int owner = Virq.ScopeOf(c.VirqNumber) == VirqScope.Vcpu ? c.NotifyVcpu : 0;
                int[] map = VirqPorts();
                int slot = (owner * Virq.Count) + c.VirqNumber;
                if (map[slot] == port)
                {
                    map[slot] = 0;
                }

                break;
            }

            case ChannelState.Interdomain when c.Peer is { } peer:
            {
                ref Channel r = ref peer.At(c.RemotePort);
                r.State = ChannelState.Unbound;
                r.RemoteDomain = _domain.Id;
                r.RemotePort = 0;
                r.Peer = null;
                break;
            }

            case ChannelState.Interdomain:
                c.Host?.Detach();
                break;
        }

        if (!_dead)
        {
            _abi.ClearPending(port, ref c);
        }

        // The last FIFO queue stays: the port may still be its tail (see FifoEvents.SetPending).
        c = new Channel { LastQueueVcpu = c.LastQueueVcpu, LastQueuePriority = c.LastQueuePriority };
        return 0;
    }

    /// <summary>Sets <paramref name="port"/> pending for vCPU <paramref name="vcpuId"/> and wakes it. Caller holds <see cref="_lock"/>.</summary>
    private void RaiseLocked(int port, int vcpuId)
    {
        if (_dead)
        {
            return;
        }

        Vcpu v = _domain.Vcpus[vcpuId];
        EventRaise r = _abi.SetPending(v, port, ref At(port));
        if (r != EventRaise.AlreadyPending)
        {
            // A masked port still wakes a poller; only a new upcall needs a running vCPU interrupted.
            v.Kick(interrupt: r == EventRaise.Upcall);
        }
    }

    /// <summary>
    /// Xen's get_free_port: the lowest free valid port that is not still on a FIFO queue, else the first port of a new
    /// bucket, up to the ABI's limit. Caller holds <see cref="_lock"/>.
    /// </summary>
    private int AllocatePort()
    {
        if (_dead)
        {
            return -XenErrno.EINVAL;
        }

        int limit = Math.Min(_maxPort, _abi.PortLimit - 1);
        for (int port = 0; port <= limit; port++)
        {
            if (port >= _valid)
            {
                _buckets[port / BucketPorts] = new Channel[BucketPorts];
                _valid += BucketPorts;
                return port;
            }

            if (At(port).State == ChannelState.Free && !_abi.IsBusy(port))
            {
                return port;
            }
        }

        return -XenErrno.ENOSPC;
    }

    private bool IsValid(uint port) => port < (uint)_valid;

    private ref Channel At(int port) => ref _buckets[port / BucketPorts]![port % BucketPorts];

    private int[] VirqPorts() => _virqPorts ??= new int[_domain.Vcpus.Length * Virq.Count];

    private EventChannelTable? FindTable(ushort domainId)
    {
        foreach (Domain d in _domain.Hypervisor.Domains)
        {
            if (d.Id == domainId)
            {
                return d.Events;
            }
        }

        return null;
    }

    private static (object First, object Second) LockOrder(EventChannelTable a, EventChannelTable b) =>
        a._domain.Id <= b._domain.Id ? (a._lock, b._lock) : (b._lock, a._lock);
}
