using Xunit;

namespace XenSharp.IntegrationTests.Support;

/// <summary>
/// A fact that boots Mini-OS's test application (xen-project/mini-os built with CONFIG_TEST=y, docs/guests.md), which
/// this repository does not build or hold: skipped without /dev/kvm, and without $XENSHARP_MINIOS naming the kernel
/// (mini-os.gz or the ELF). A variable that names no file is the test's failure, not a skip.
/// </summary>
public sealed class MiniOsFactAttribute : FactAttribute
{
    public const string Variable = "XENSHARP_MINIOS";

    public MiniOsFactAttribute()
    {
        if (!KvmAvailability.Present)
        {
            Skip = KvmAvailability.SkipReason;
        }
        else if (string.IsNullOrEmpty(Kernel))
        {
            Skip = $"needs a Mini-OS test-application kernel (CONFIG_TEST=y, docs/guests.md), which {Variable}=PATH names; it is not set";
        }
    }

    /// <summary>$XENSHARP_MINIOS: the Mini-OS kernel to boot, or null.</summary>
    public static string? Kernel => Environment.GetEnvironmentVariable(Variable);
}
