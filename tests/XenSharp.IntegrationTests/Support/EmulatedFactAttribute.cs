using Xunit;

namespace XenSharp.IntegrationTests.Support;

/// <summary>
/// A fact that runs `xensharp run --emulate` (the helper machine: KVM inside QEMU's emulated CPU, about a minute per
/// run): only where QEMU is installed and there is no /dev/kvm (the hosts that need the helper machine, where it is
/// the only way to boot a guest), or anywhere with XENSHARP_TEST_EMULATE=1; skipped elsewhere, and inside the helper.
/// </summary>
public sealed class EmulatedFactAttribute : FactAttribute
{
    public const string OptIn = "XENSHARP_TEST_EMULATE";

    public EmulatedFactAttribute()
    {
        bool qemu = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Any(d => File.Exists(Path.Combine(d, "qemu-system-x86_64")));
        if (Environment.GetEnvironmentVariable(OptIn) == "1")
        {
            return;
        }

        if (KvmAvailability.Present)
        {
            Skip = $"this host has /dev/kvm: the helper machine is tested where there is none (or with {OptIn}=1)";
        }
        else if (!qemu)
        {
            Skip = $"needs QEMU (qemu-system-x86_64) for the helper machine (or {OptIn}=1)";
        }
    }
}
