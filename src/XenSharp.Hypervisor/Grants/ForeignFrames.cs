using XenSharp.Hypervisor.Domains;
using XenSharp.Hypervisor.Memory;

namespace XenSharp.Hypervisor.Grants;

/// <summary>
/// The other domains' frames a domain's machine must reach for its grant host mappings, each counted by the host
/// mappings that use it: the first makes the frame addressable in the machine (<see cref="IForeignFrameMachine"/>),
/// the last takes it away. Without a machine (unit tests, a domain not started yet) only the counts are kept.
/// <para>
/// Invariant: a frame is in the machine exactly while its count is non-zero (and a machine is attached). The lock is a
/// leaf: nothing else is taken while it is held besides the machine's own.
/// </para>
/// </summary>
internal sealed class ForeignFrames
{
    private readonly Dictionary<ulong, int> _counts = new();
    private readonly object _lock = new();
    private IForeignFrameMachine? _machine;

    /// <summary>
    /// Attaches the domain's machine (null detaches it before the machine goes: the frames go with it). Frames counted
    /// before a machine was attached are added to it now.
    /// </summary>
    public void Attach(IForeignFrameMachine? machine)
    {
        lock (_lock)
        {
            _machine = machine;
            if (machine is null)
            {
                return;
            }

            foreach (ulong mfn in _counts.Keys)
            {
                machine.TryAddFrame(new Mfn(mfn));
            }
        }
    }

    /// <summary>Counts one more host mapping of <paramref name="mfn"/>; false (nothing counted) when the machine cannot take the frame.</summary>
    public bool TryAdd(Mfn mfn)
    {
        lock (_lock)
        {
            _counts.TryGetValue(mfn.Value, out int n);
            if (n == 0 && _machine is { } m && !m.TryAddFrame(mfn))
            {
                return false;
            }

            _counts[mfn.Value] = n + 1;
            return true;
        }
    }

    /// <summary>One host mapping of <paramref name="mfn"/> fewer; the last takes the frame out of the machine.</summary>
    public void Remove(Mfn mfn)
    {
        lock (_lock)
        {
            if (!_counts.TryGetValue(mfn.Value, out int n))
            {
                throw new InvalidOperationException($"{mfn} is not a foreign frame of this domain");
            }

            if (n > 1)
            {
                _counts[mfn.Value] = n - 1;
                return;
            }

            _counts.Remove(mfn.Value);
            _machine?.RemoveFrame(mfn);
        }
    }

    /// <summary>How many host mappings use <paramref name="mfn"/> (0 when it is not in the machine).</summary>
    public int Count(Mfn mfn)
    {
        lock (_lock)
        {
            return _counts.GetValueOrDefault(mfn.Value);
        }
    }

    /// <summary>Distinct foreign frames in use.</summary>
    public int Frames
    {
        get
        {
            lock (_lock)
            {
                return _counts.Count;
            }
        }
    }
}
