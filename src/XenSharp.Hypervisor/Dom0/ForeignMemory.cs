namespace XenSharp.Hypervisor.Dom0;

/// <summary>Domain 0's foreign mappings by machine frame (xenforeignmemory), for the console and store rings.</summary>
public sealed class ForeignMemory
{
    private readonly DomainControl _control;

    internal ForeignMemory(DomainControl control) => _control = control;

    /// <summary>
    /// <paramref name="frame"/> of domain <paramref name="domid"/>; null if the domain does not own it now (it may
    /// stop owning it later: see <see cref="ForeignPage"/>).
    /// </summary>
    public ForeignPage? Map(ushort domid, Memory.Mfn frame)
    {
        var page = new ForeignPage(_control.Get(domid), frame);
        using PageAccess a = page.Open();
        return a.IsPresent ? page : null;
    }
}
