using Xunit;

namespace XenSharp.IntegrationTests.Support;

/// <summary>Whether this host can run guests: the tests that boot one are skipped, not failed, without /dev/kvm.</summary>
public static class KvmAvailability
{
    public const string Device = "/dev/kvm";

    public const string SkipReason = "needs /dev/kvm, which this host does not have";

    public static bool Present => Path.Exists(Device);
}

/// <summary>A fact that boots a guest: skipped when the host has no /dev/kvm.</summary>
public sealed class KvmFactAttribute : FactAttribute
{
    public KvmFactAttribute()
    {
        if (!KvmAvailability.Present)
        {
            Skip = KvmAvailability.SkipReason;
        }
    }
}

/// <summary>A theory that boots guests: skipped when the host has no /dev/kvm.</summary>
public sealed class KvmTheoryAttribute : TheoryAttribute
{
    public KvmTheoryAttribute()
    {
        if (!KvmAvailability.Present)
        {
            Skip = KvmAvailability.SkipReason;
        }
    }
}
