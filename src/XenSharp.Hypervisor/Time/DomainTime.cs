using System.Buffers.Binary;
using System.Runtime.InteropServices;
using XenSharp.Abi;

namespace XenSharp.Hypervisor.Time;

/// <summary>
/// A domain's view of system time through its guest TSC: one anchor (a TSC value and the system time it was read at)
/// and one scale, the same for every vCPU (KVM keeps a VM's vCPU TSCs in step). A guest computes
/// now = system_time + scale(rdtsc - tsc_timestamp) from vcpu_time_info; the host computes the same function
/// (<see cref="SystemTimeAt"/>), so hypervisor and guest agree exactly on what time a TSC value is, and the anchor
/// never has to move: the time is monotonic and identical on every vCPU. Until <see cref="Calibrate"/> (no machine:
/// unit tests), system time is read from the host clock.
/// Invariant: the anchor and scale are written once, before any vCPU runs; readers on any thread may use them after.
/// </summary>
internal sealed class DomainTime
{
    public DomainTime(SystemClock clock) => Clock = clock;

    public SystemClock Clock { get; }

    public bool Calibrated { get; private set; }

    public TimeScale Scale { get; private set; }

    public ulong TscAnchor { get; private set; }

    public ulong SystemAnchor { get; private set; }

    /// <summary>Anchors the domain's time to a TSC read on one of its vCPUs; <paramref name="tscHz"/> is that TSC's rate.</summary>
    public void Calibrate(TscSample sample, ulong tscHz)
    {
        Scale = TimeScale.FromFrequency(tscHz);
        TscAnchor = sample.Tsc;
        SystemAnchor = Clock.SystemTimeAt(sample.HostNs);
        Calibrated = true;
    }

    /// <summary>The system time a guest computes for TSC value <paramref name="tsc"/>.</summary>
    public ulong SystemTimeAt(ulong tsc)
    {
        if (tsc >= TscAnchor)
        {
            return SystemAnchor + Scale.ToNanoseconds(tsc - TscAnchor);
        }

        ulong back = Scale.ToNanoseconds(TscAnchor - tsc);
        return back < SystemAnchor ? SystemAnchor - back : 0;
    }

    /// <summary>System time now, from a fresh TSC sample (a calibrated domain) or the host clock.</summary>
    public ulong Now(TscSample sample) => Calibrated ? SystemTimeAt(sample.Tsc) : Clock.SystemTimeAt(sample.HostNs);

    /// <summary>
    /// Writes vcpu_time_info (32 bytes) with Xen's version protocol: version odd while the fields change, even after,
    /// so a guest reading concurrently retries. TSC_STABLE is set: the TSC is one clock for every vCPU of the domain.
    /// </summary>
    public void WriteTimeInfo(Span<byte> timeInfo)
    {
        ref uint version = ref BeginUpdate(timeInfo[..4]);
        BinaryPrimitives.WriteUInt64LittleEndian(timeInfo[SharedInfoLayout.TimeTscTimestamp..], TscAnchor);
        BinaryPrimitives.WriteUInt64LittleEndian(timeInfo[SharedInfoLayout.TimeSystemTime..], SystemAnchor);
        BinaryPrimitives.WriteUInt32LittleEndian(timeInfo[SharedInfoLayout.TimeTscToSystemMul..], Scale.Mul);
        timeInfo[SharedInfoLayout.TimeTscShift] = unchecked((byte)Scale.Shift);
        timeInfo[SharedInfoLayout.TimeFlags] = SharedInfoLayout.TimeFlagTscStable;
        EndUpdate(ref version);
    }

    /// <summary>Writes shared_info's wall clock (UTC at system time 0) with the same version protocol.</summary>
    public void WriteWallClock(Span<byte> sharedInfo)
    {
        ref uint version = ref BeginUpdate(sharedInfo.Slice(SharedInfoLayout.WcVersion, 4));
        BinaryPrimitives.WriteUInt32LittleEndian(sharedInfo[SharedInfoLayout.WcSec..], (uint)Clock.WallClockSeconds);
        BinaryPrimitives.WriteUInt32LittleEndian(sharedInfo[SharedInfoLayout.WcNsec..], Clock.WallClockNanoseconds);
        BinaryPrimitives.WriteUInt32LittleEndian(sharedInfo[SharedInfoLayout.WcSecHi..], (uint)(Clock.WallClockSeconds >> 32));
        EndUpdate(ref version);
    }

    /// <summary>Makes the version odd (it may already be, if the guest wrote it: then it stays odd and moves on).</summary>
    private static ref uint BeginUpdate(Span<byte> versionField)
    {
        ref uint version = ref MemoryMarshal.Cast<byte, uint>(versionField)[0];
        uint v = Volatile.Read(ref version);
        Volatile.Write(ref version, (v & 1) == 0 ? v + 1 : v + 2);
        Interlocked.MemoryBarrier();
        return ref version;
    }

    private static void EndUpdate(ref uint version)
    {
        Interlocked.MemoryBarrier();
        Volatile.Write(ref version, Volatile.Read(ref version) + 1);
    }
}
