namespace XenSharp.Hypervisor.Pv.Mmu;

/// <summary>The writable-page-table assist: a guest-kernel write fault on a read-only mapped, validated L1 is emulated.</summary>
public static class WritablePageTables
{
    public static bool TryEmulate(Domains.Vcpu vcpu, ulong cr2, ulong errorCode) => false;
}
