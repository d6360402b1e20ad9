namespace XenSharp.Cli;

/// <summary>
/// Where `xensharp run` runs its hypervisor: on this host's KVM when it has one; in the helper machine (hwkvm/emulate:
/// kvm_amd inside QEMU's emulated CPU) when the KVM device is absent or --emulate asks for it; otherwise nowhere, with
/// a one-line error that names what to do. Never emulates inside the helper machine itself, nor because a device that
/// $XENSHARP_KVM_DEVICE names is missing (that is a mistake to report). A device that exists but cannot be opened
/// (permissions, no driver) is this host's KVM: its own error says what is wrong.
/// </summary>
public static class EmulationPolicy
{
    public const string Slow = "running on KVM inside QEMU's emulated CPU (10-100x slower)";

    public const string Advice = "To run guests, load kvm_intel or kvm_amd (with VT-x/AMD-V enabled in the firmware, or nested "
        + "virtualisation if this host is itself a VM), or install QEMU (apt-get install qemu-system-x86): without /dev/kvm "
        + "xensharp then runs them on KVM inside QEMU's emulated CPU, slowly (--emulate asks for that anyway)";

    /// <returns>null to run on this host's KVM; otherwise the line to print before starting the helper machine.</returns>
    /// <exception cref="UsageException">There is no KVM and no way to emulate one, or --emulate cannot be honoured.</exception>
    public static string? Decide(HostFacts host, bool requested)
    {
        ArgumentNullException.ThrowIfNull(host);
        if (host.InsideHelperMachine)
        {
            return null;
        }

        string? whyNot = WhyNotEmulate(host);
        if (requested)
        {
            return whyNot is null ? $"xensharp: --emulate: {Slow}" : throw new UsageException($"--emulate: cannot start the helper machine: {whyNot}");
        }

        if (host.KvmDeviceExists)
        {
            return null;
        }

        if (host.KvmDeviceChosen)
        {
            throw new UsageException($"{host.KvmDevice} (${HostFacts.DeviceVariable}) does not exist: no KVM there. {Advice}");
        }

        return whyNot is null
            ? $"xensharp: no {host.KvmDevice} here; {Slow}"
            : throw new UsageException($"{host.KvmDevice} does not exist: this host has no KVM, and {whyNot}. {Advice}");
    }

    /// <summary>Why the helper machine cannot run here, or null when it can.</summary>
    public static string? WhyNotEmulate(HostFacts host)
    {
        ArgumentNullException.ThrowIfNull(host);
        if (!host.X64Linux)
        {
            return "the helper machine needs an x86-64 Linux host";
        }

        if (host.Runner is null)
        {
            return "the helper machine's scripts (hwkvm/ beside xensharp) are missing";
        }

        if (!host.QemuInstalled && !(host.Root && host.Apt))
        {
            return host.Apt ? "QEMU is not installed (qemu-system-x86_64; installing it needs root)" : "QEMU is not installed (qemu-system-x86_64) and there is no apt-get to install it";
        }

        if (!host.PackagesCached && !host.Apt)
        {
            return "there is no apt-get to fetch the helper machine's Debian kernel (the helper machine needs a Debian host)";
        }

        return null;
    }
}
