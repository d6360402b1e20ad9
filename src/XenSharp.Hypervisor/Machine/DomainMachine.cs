using XenSharp.Hypervisor.Domains;
using XenSharp.Hypervisor.Memory;
using XenSharp.Hypervisor.Stub;
using XenSharp.Kvm;

namespace XenSharp.Hypervisor.Machine;

/// <summary>
/// A domain's KVM machine: one KVM VM whose memory slots cover only the domain's own frames, its private stub pages
/// and the shared hypervisor frames (stub code, IDT, M2P), plus one single-frame slot per other domain's frame it maps
/// through a grant (added and removed at run time, <see cref="IForeignFrameMachine"/>); one host thread per running vCPU.
/// Foreign slots are guarded by <see cref="_slotLock"/>; KVM itself makes a slot change safe against running vCPUs
/// (a removed slot's translations are zapped and flushed before the ioctl returns).
/// </summary>
internal sealed class DomainMachine : IDomainMachine, IForeignFrameMachine
{
    private readonly Domain _domain;
    private readonly KvmVm _vm;
    private readonly VcpuRunner[] _runners;
    private readonly IMachineMemory _memory;
    private readonly object _slotLock = new();
    private readonly Dictionary<ulong, uint> _foreignSlots = new();
    private readonly Stack<uint> _freeSlots = new();
    private uint _nextSlot;
    private bool _stopped;
    private bool _disposed;

    public DomainMachine(XenHypervisor hypervisor, Domain domain, KvmSystem kvm)
    {
        _domain = domain;
        _vm = kvm.CreateVm();
        try
        {
            _vm.CreateIrqchip();
            uint slot = 0;
            IMachineMemory memory = hypervisor.Pool.Memory;
            _memory = memory;
            void Map(Extent e) => _vm.SetMemorySlot(slot++, e.First.Address, e.Bytes, memory.HostAddress(e.First.Address));
            Map(hypervisor.Pool.M2p);
            Map(hypervisor.Shared.Frames);
            foreach (Extent e in domain.Extents)
            {
                Map(e);
            }

            _nextSlot = slot;

            IReadOnlyList<CpuidEntry> cpuid = CpuidPolicy.ForKvm(CpuidPolicy.Supported(kvm));
            _runners = new VcpuRunner[domain.Vcpus.Length];
            for (int i = 0; i < _runners.Length; i++)
            {
                int id = i;
                _runners[i] = new VcpuRunner(domain.Vcpus[i], _vm.CreateVcpu(i), cpuid, hypervisor.Shared.Stub, () => KickVcpu(id));
            }

            // KVM keeps one TSC for all the VM's vCPUs: vCPU 0's reading anchors the domain's clock before anything runs.
            domain.StartClock(domain.Vcpus[0].SampleTime(), _runners[0].TscHz);
        }
        catch
        {
            _vm.Dispose();
            throw;
        }

        // Nothing is shadowed before the VM first runs: the builder's page-table writes need no resync.
        Span<ulong> discard = stackalloc ulong[256];
        while (domain.Mmu.DrainHostWrites(discard) > 0)
        {
        }

        domain.StopAllVcpus = StopAll;
        domain.KickVcpu = KickVcpu;
        domain.StartVcpu = StartVcpu;
        domain.ForeignFrames.Attach(this);
    }

    public bool TryAddFrame(Mfn mfn)
    {
        lock (_slotLock)
        {
            if (_disposed || _foreignSlots.ContainsKey(mfn.Value))
            {
                return false;
            }

            uint slot;
            if (_freeSlots.Count > 0)
            {
                slot = _freeSlots.Pop();
            }
            else if (_nextSlot < (uint)_vm.MaxMemorySlots)
            {
                slot = _nextSlot++;
            }
            else
            {
                _domain.Log.Limited($"d{_domain.Id}-foreign-slots", $"(d{_domain.Id}) no KVM memory slot left for another domain's frame {mfn}");
                return false;
            }

            try
            {
                _vm.SetMemorySlot(slot, mfn.Address, Mfn.PageSize, _memory.HostAddress(mfn.Address));
            }
            catch (KvmException e)
            {
                _freeSlots.Push(slot);
                _domain.Log.Domain(_domain.Id, $"could not add another domain's frame {mfn} to the machine: {e.Message}");
                return false;
            }

            _foreignSlots[mfn.Value] = slot;
            return true;
        }
    }

    public void RemoveFrame(Mfn mfn)
    {
        lock (_slotLock)
        {
            if (_disposed || !_foreignSlots.Remove(mfn.Value, out uint slot))
            {
                return;
            }

            _vm.DeleteMemorySlot(slot);
            _freeSlots.Push(slot);
        }
    }

    public void Start() => _runners[0].Start();

    /// <summary>Starts a vCPU brought up by VCPUOP_up; false if its thread already runs.</summary>
    public bool StartVcpu(int id)
    {
        lock (_runners)
        {
            if (_disposed)
            {
                return false;
            }

            if (_runners[id].IsRunning)
            {
                return true; // parked while down: VCPUOP_up woke it (VcpuLifecycle.BringUp)
            }

            _runners[id].Start();
            return true;
        }
    }

    public void KickVcpu(int id)
    {
        try
        {
            _vm.SignalMsi(0xfee00000UL | ((ulong)id << 12), StubVector.Kick);
        }
        catch (KvmException e)
        {
            _domain.Log.Vcpu(_domain.Id, id, $"kick failed: {e.Message}");
        }
        catch (ObjectDisposedException)
        {
            // The domain is being torn down: there is nobody left to interrupt.
        }
    }

    /// <summary>Asks every vCPU to stop (waking blocked and parked ones) and kicks the running ones out of the guest.</summary>
    public void StopAll()
    {
        foreach (VcpuRunner r in _runners)
        {
            r.Vcpu.StopRequested = true;
            if (r.IsRunning)
            {
                KickVcpu(r.Vcpu.Id);
            }
        }
    }

    public void Dispose()
    {
        if (_stopped)
        {
            return;
        }

        _stopped = true;
        StopAll();
        foreach (VcpuRunner r in _runners)
        {
            // A kick can land while the thread is between exits; keep kicking until it is out.
            while (!r.Join(TimeSpan.FromMilliseconds(200)))
            {
                StopAll();
            }

            r.Dispose();
        }

        // No vCPU maps anything any more; the foreign frames go with the VM.
        _domain.ForeignFrames.Attach(null);
        lock (_slotLock)
        {
            _disposed = true;
        }

        _vm.Dispose();
    }
}
