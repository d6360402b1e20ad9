using Xunit;

namespace XenSharp.IntegrationTests.Support;

/// <summary>
/// A fact that boots two Linux domains and works them for many minutes of emulated time (LinuxGuestUserlandTests):
/// skipped without /dev/kvm, and where the time limits are scaled (the hardware lane, KVM inside QEMU's emulated CPU,
/// where it takes about half an hour on a busy machine and would not fit the lane's 1800 s beside the other tests)
/// unless XENSHARP_TEST_LINUX_USERLAND=1 asks for it. On a host's own KVM it always runs.
/// </summary>
public sealed class LinuxUserlandFactAttribute : FactAttribute
{
    public const string OptIn = "XENSHARP_TEST_LINUX_USERLAND";

    public LinuxUserlandFactAttribute()
    {
        if (!KvmAvailability.Present)
        {
            Skip = KvmAvailability.SkipReason;
        }
        else if (Limits.Scale > 1 && Environment.GetEnvironmentVariable(OptIn) != "1")
        {
            Skip = $"two Linux boots and their work take about half an hour on an emulated CPU ({Limits.ScaleVariable} > 1), more than the lane's limit allows beside the other tests; {OptIn}=1 runs it";
        }
    }
}
