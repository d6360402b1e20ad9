using System.Buffers.Binary;
using XenSharp.Abi;

namespace XenSharp.Hypervisor.Time;

/// <summary>
/// A vCPU's vcpu_runstate_info: its current state (running, runnable, blocked, offline), when it entered it, and the
/// system time spent in each. Paper's "virtual time": the running total advances only while the vCPU runs.
/// Invariant: all fields under <see cref="_lock"/>; changes come from the vCPU's own thread (or the toolstack while
/// it is down), reads (VCPUOP_get_runstate_info of another vCPU) from any.
/// </summary>
internal sealed class VcpuRunstate
{
    private readonly object _lock = new();
    private readonly ulong[] _time = new ulong[4];
    private int _state;
    private ulong _entry;

    public VcpuRunstate(int initialState, ulong now)
    {
        _state = initialState;
        _entry = now;
    }

    public int State
    {
        get
        {
            lock (_lock)
            {
                return _state;
            }
        }
    }

    /// <summary>Enters <paramref name="state"/> at system time <paramref name="now"/> (a clock going back counts as 0).</summary>
    public void Change(int state, ulong now)
    {
        lock (_lock)
        {
            if (now > _entry)
            {
                _time[_state] += now - _entry;
                _entry = now;
            }

            _state = state;
        }
    }

    /// <summary>
    /// The record as stored (state_entry_time = the last change), for the guest's registered area; with
    /// <paramref name="elapsedUntil"/> the current state's time runs on to that moment (Xen's vcpu_runstate_get).
    /// </summary>
    public void WriteTo(Span<byte> info, ulong? elapsedUntil = null)
    {
        lock (_lock)
        {
            BinaryPrimitives.WriteInt32LittleEndian(info[RunstateLayout.State..], _state);
            BinaryPrimitives.WriteInt32LittleEndian(info[(RunstateLayout.State + 4)..], 0);
            BinaryPrimitives.WriteUInt64LittleEndian(info[RunstateLayout.StateEntryTime..], _entry);
            for (int i = 0; i < 4; i++)
            {
                ulong t = _time[i];
                if (i == _state && elapsedUntil is { } until && until > _entry)
                {
                    t += until - _entry;
                }

                BinaryPrimitives.WriteUInt64LittleEndian(info[(RunstateLayout.Time + (8 * i))..], t);
            }
        }
    }
}
