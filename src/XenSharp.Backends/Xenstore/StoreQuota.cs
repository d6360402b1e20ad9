using XenSharp.Abi;

namespace XenSharp.Backends.Xenstore;

/// <summary>
/// Quota values with C xenstored's defaults (domain.c). They bind unprivileged domains only; 0 turns a quota off. As in
/// xenstored a request is refused when the count it would create reaches the quota (so 128 watches allow 127), except
/// that <see cref="QuotaItem.Outstanding"/> stops reading new requests once the queued replies reach it.
/// </summary>
public sealed class StoreQuota
{
    public static readonly IReadOnlyList<string> Names =
        ["nodes", "watches", "outstanding", "transactions", "transaction-nodes", "node-permissions", "path-max", "node-size"];

    private readonly int[] _values;

    public StoreQuota()
    {
        _values = [1000, 128, 20, 10, 1024, 5, XenstoreLayout.RelPathMax, 2048];
    }

    private StoreQuota(int[] values) => _values = values;

    /// <summary>
    /// Bytes of watch events that may wait for one unprivileged connection; more are dropped (a stand-in for
    /// xenstored's per-domain memory quota, which also bounds its queued output).
    /// </summary>
    public int EventBytes { get; set; } = 2 * 1024 * 1024;

    public int this[QuotaItem item]
    {
        get => _values[(int)item];
        set => _values[(int)item] = value;
    }

    public StoreQuota Clone() => new((int[])_values.Clone()) { EventBytes = EventBytes };

    /// <summary>xenstored's domain_quota_val_exceeds: a non-zero quota is exceeded when the value reaches it.</summary>
    public bool Exceeds(QuotaItem item, long value) => _values[(int)item] != 0 && value >= _values[(int)item];

    public static bool TryParseName(string name, out QuotaItem item)
    {
        for (int i = 0; i < Names.Count; i++)
        {
            if (Names[i] == name)
            {
                item = (QuotaItem)i;
                return true;
            }
        }

        item = default;
        return false;
    }
}
