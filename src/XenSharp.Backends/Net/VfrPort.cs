namespace XenSharp.Backends.Net;

/// <summary>
/// A port of the <see cref="Vfr"/>: a VIF or the uplink. <see cref="Send"/> puts a frame into the switch; frames for it
/// go to its <see cref="IVfrEndpoint"/>. Its rules are one immutable list swapped whole by <see cref="SetRules"/>, so a
/// change applies to every frame switched after it and never to half a frame. Dispose detaches it.
/// </summary>
public sealed class VfrPort : IDisposable
{
    private readonly Vfr _vfr;
    private IReadOnlyList<VfrRule> _rules = [];

    internal VfrPort(Vfr vfr, string name, IVfrEndpoint endpoint)
    {
        _vfr = vfr;
        Name = name;
        Endpoint = endpoint;
    }

    public string Name { get; }

    public VfrPortCounters Counters { get; } = new();

    public IReadOnlyList<VfrRule> Rules => Volatile.Read(ref _rules);

    internal IVfrEndpoint Endpoint { get; }

    internal bool Detached { get; set; }

    /// <summary>Replaces the port's rules (in order; first match wins; no match allows).</summary>
    public void SetRules(IEnumerable<VfrRule> rules) => Volatile.Write(ref _rules, rules.ToArray());

    /// <summary>Switches a frame from this port; returns whether it went anywhere (was not dropped here).</summary>
    public bool Send(NetPacket packet) => _vfr.Forward(this, packet);

    public void Dispose() => _vfr.Detach(this);

    /// <summary>Whether this port's rules let a frame through in <paramref name="direction"/>.</summary>
    internal bool Allows(VfrDirection direction, in VfrFrame frame)
    {
        foreach (VfrRule r in Rules)
        {
            if (r.Matches(direction, frame))
            {
                return r.Action == VfrAction.Allow;
            }
        }

        return true;
    }

    public override string ToString() => Name;
}
