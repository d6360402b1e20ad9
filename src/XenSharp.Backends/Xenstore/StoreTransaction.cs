namespace XenSharp.Backends.Xenstore;

/// <summary>
/// An open transaction of one connection. Reads and writes go to copies of the nodes it touches (<see cref="Accessed"/>,
/// in first-touch order); nothing is visible to anyone else until a commit finds every node it read still at the
/// generation it read (else EAGAIN) and writes its changes. <see cref="Failed"/>: something inside could not be done
/// (a quota), so a commit must fail.
/// </summary>
internal sealed class StoreTransaction(uint id)
{
    public uint Id { get; } = id;

    public Dictionary<string, TransactionAccess> Accessed { get; } = new(StringComparer.Ordinal);

    public List<TransactionAccess> Order { get; } = new();

    public bool Failed { get; set; }

    public bool NodeCreated { get; set; }

    public void Add(TransactionAccess access)
    {
        Accessed.Add(access.Name, access);
        Order.Add(access);
    }
}
