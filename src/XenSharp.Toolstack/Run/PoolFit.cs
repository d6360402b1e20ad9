using XenSharp.Hypervisor;
using XenSharp.Toolstack.Config;

namespace XenSharp.Toolstack.Run;

/// <summary>
/// Whether the configs' memory can fit in a machine pool, checked before KVM is opened. It counts each domain's
/// `memory` (what the builder allocates), not `maxmem` (a ceiling the guest may balloon towards; running out there is
/// an ENOMEM to the guest, as under Xen), against the pool less its M2P table. That is necessary, not sufficient:
/// per-domain overheads of a few frames are left to the builder, which reports its own shortfall.
/// </summary>
public static class PoolFit
{
    /// <summary>The MiB of a pool of <paramref name="poolMiB"/> that domains can have (the rest is the M2P table).</summary>
    public static long DomainMiB(int poolMiB) => poolMiB - (long)(XenHypervisor.M2pFramesFor((ulong)poolMiB * 256) / 256);

    /// <exception cref="ConfigException">A config's memory does not fit beside the configs before it; names that config.</exception>
    public static void Check(IReadOnlyList<DomainConfig> configs, int poolMiB)
    {
        long available = DomainMiB(poolMiB);
        long before = 0;
        foreach (DomainConfig c in configs)
        {
            if (before + c.MemoryMiB > available)
            {
                string others = before == 0 ? "" : $", {before} MiB of which the configs before it take";
                throw new ConfigException(
                    c.SourcePath.Length > 0 ? c.SourcePath : c.Name,
                    0,
                    $"memory={c.MemoryMiB} MiB does not fit in the {poolMiB} MiB machine pool ({available} MiB for domains{others}; see --pool-mb)");
            }

            before += c.MemoryMiB;
        }
    }
}
