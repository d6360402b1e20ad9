using XenSharp.Cli;
using Xunit;

namespace XenSharp.Tests.Cli;

/// <summary>Where `xensharp run` runs: this host's KVM, the helper machine (KVM inside QEMU), or nowhere with advice.</summary>
public class EmulationPolicyTests
{
    /// <summary>A Debian x86-64 host without /dev/kvm where the helper machine can run (QEMU installed, not root).</summary>
    private static readonly HostFacts NoKvm = new()
    {
        KvmDevice = "/dev/kvm",
        X64Linux = true,
        Runner = "/opt/xensharp/hwkvm/emulate",
        QemuInstalled = true,
        Apt = true,
    };

    [Fact]
    public void WithKvm_RunsOnIt()
    {
        Assert.Null(EmulationPolicy.Decide(NoKvm with { KvmDeviceExists = true }, requested: false));
    }

    [Fact]
    public void WithoutKvm_RunsInTheHelperMachine_AndSaysWhyItIsSlow()
    {
        string? line = EmulationPolicy.Decide(NoKvm, requested: false);

        Assert.Equal("xensharp: no /dev/kvm here; running on KVM inside QEMU's emulated CPU (10-100x slower)", line);
    }

    [Fact]
    public void Emulate_RunsInTheHelperMachineEvenWithKvm()
    {
        string? line = EmulationPolicy.Decide(NoKvm with { KvmDeviceExists = true }, requested: true);

        Assert.Equal("xensharp: --emulate: running on KVM inside QEMU's emulated CPU (10-100x slower)", line);
    }

    [Fact]
    public void InsideTheHelperMachine_NeverEmulatesAgain()
    {
        HostFacts inside = NoKvm with { KvmDeviceExists = true, InsideHelperMachine = true };

        Assert.Null(EmulationPolicy.Decide(inside, requested: false));
        Assert.Null(EmulationPolicy.Decide(inside, requested: true));
    }

    [Fact]
    public void RootWithApt_WithoutQemu_Emulates_QemuIsInstalledFirst()
    {
        Assert.NotNull(EmulationPolicy.Decide(NoKvm with { QemuInstalled = false, Root = true }, requested: false));
    }

    [Fact]
    public void WithoutApt_ThePackagesOfAnEarlierRunServe()
    {
        HostFacts offline = NoKvm with { Apt = false, PackagesCached = true };

        Assert.NotNull(EmulationPolicy.Decide(offline, requested: false));
    }

    /// <summary>No KVM, no QEMU, not root: one line that says why not and names every way out.</summary>
    [Fact]
    public void NeitherKvmNorEmulation_IsOneLineNamingWhatToDo()
    {
        var e = Assert.Throws<UsageException>(() => EmulationPolicy.Decide(NoKvm with { QemuInstalled = false }, requested: false));

        Assert.DoesNotContain('\n', e.Message);
        Assert.StartsWith("/dev/kvm does not exist: this host has no KVM, and QEMU is not installed (qemu-system-x86_64; installing it needs root).", e.Message);
        foreach (string remedy in new[] { "kvm_intel", "kvm_amd", "VT-x/AMD-V", "nested virtualisation", "apt-get install qemu-system-x86", "--emulate" })
        {
            Assert.Contains(remedy, e.Message);
        }
    }

    [Theory]
    [InlineData("not-x64", "the helper machine needs an x86-64 Linux host")]
    [InlineData("no-runner", "the helper machine's scripts (hwkvm/ beside xensharp) are missing")]
    [InlineData("no-qemu-no-apt", "QEMU is not installed (qemu-system-x86_64) and there is no apt-get to install it")]
    [InlineData("no-apt-no-cache", "there is no apt-get to fetch the helper machine's Debian kernel (the helper machine needs a Debian host)")]
    public void WhyNotEmulate_NamesWhatIsMissing(string host, string reason)
    {
        HostFacts facts = host switch
        {
            "not-x64" => NoKvm with { X64Linux = false },
            "no-runner" => NoKvm with { Runner = null },
            "no-qemu-no-apt" => NoKvm with { QemuInstalled = false, Root = true, Apt = false },
            _ => NoKvm with { Apt = false },
        };

        Assert.Equal(reason, EmulationPolicy.WhyNotEmulate(facts));
        var e = Assert.Throws<UsageException>(() => EmulationPolicy.Decide(facts, requested: false));
        Assert.Contains($"no KVM, and {reason}.", e.Message);
    }

    [Fact]
    public void Emulate_WhereTheHelperMachineCannotRun_SaysWhy()
    {
        var e = Assert.Throws<UsageException>(() => EmulationPolicy.Decide(NoKvm with { KvmDeviceExists = true, X64Linux = false }, requested: true));

        Assert.Equal("--emulate: cannot start the helper machine: the helper machine needs an x86-64 Linux host", e.Message);
    }

    /// <summary>$XENSHARP_KVM_DEVICE naming a missing device is a mistake to report, not a reason to boot QEMU.</summary>
    [Fact]
    public void ChosenDeviceThatIsMissing_IsAnError_NotEmulation()
    {
        HostFacts chosen = NoKvm with { KvmDevice = "/nowhere/kvm", KvmDeviceChosen = true };

        var e = Assert.Throws<UsageException>(() => EmulationPolicy.Decide(chosen, requested: false));

        Assert.StartsWith("/nowhere/kvm ($XENSHARP_KVM_DEVICE) does not exist: no KVM there.", e.Message);
        Assert.Contains("--emulate", e.Message);
        Assert.NotNull(EmulationPolicy.Decide(chosen, requested: true));
    }
}
