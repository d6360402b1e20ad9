using XenSharp.Toolstack.Config;
using Xunit;

namespace XenSharp.Tests.Config;

/// <summary>Settings XenSharp does not act on: one warning per key, naming the file, the line and the key.</summary>
public class ConfigWarningTests
{
    private const string Minimal = "name = \"guest\"\nkernel = \"/boot/vmlinuz\"\n";

    private static IReadOnlyList<string> WarningsFor(string lines) => XlConfigParser.Parse(Minimal + lines, "hello.cfg").Warnings;

    [Theory]
    [InlineData("vtpm = [ 'backend=0' ]", "vtpm")]
    [InlineData("bootloader = \"pygrub\"", "bootloader")]
    [InlineData("cpuid = \"host\"", "cpuid")]
    [InlineData("cap = 50", "cap")]
    [InlineData("uuid = \"6c1a4f55-0a2b-4c3e-9d1e-3f2a1b0c9d8e\"", "uuid")]
    [InlineData("on_watchdog = \"restart\"", "on_watchdog")]
    [InlineData("maxvcpus = 4", "maxvcpus")]
    public void AKeyXlKnowsButXenSharpIgnoresIsAWarning(string line, string key)
    {
        Assert.Equal([$"hello.cfg:3: warning: '{key}' is not supported yet and is ignored"], WarningsFor(line + "\n"));
    }

    [Fact]
    public void AKeyNobodyKnowsIsAWarningToo()
    {
        Assert.Equal(["hello.cfg:3: warning: 'flavour' is not an xl setting and is ignored"], WarningsFor("flavour = \"vanilla\"\n"));
    }

    [Theory]
    [InlineData("memroy", "memory")]
    [InlineData("vcpu", "vcpus")]
    [InlineData("on_crahs", "on_crash")]
    [InlineData("dsik", "disk")]
    public void AMisspeltKeyGetsASuggestion(string typo, string meant)
    {
        Assert.Equal(
            [$"hello.cfg:3: warning: '{typo}' is not an xl setting and is ignored (did you mean '{meant}'?)"],
            WarningsFor($"{typo} = 1\n"));
    }

    [Fact]
    public void EachKeyIsWarnedAboutOnceInFileOrder()
    {
        IReadOnlyList<string> warnings = WarningsFor("vtpm = [ 'backend=0' ]\ndisk = [ '/x.img,raw,xvda' ]\nvtpm += [ 'backend=1' ]\nvtpm = [ 'backend=2' ]\n");

        Assert.Equal(
            ["hello.cfg:6: warning: 'vtpm' is not supported yet and is ignored"],
            warnings);
    }

    [Fact]
    public void UnderstoodKeysAreNotWarnedAbout()
    {
        const string text = "name = \"g\"\nkernel = \"/k\"\nramdisk = \"/r\"\nmemory = 64\nmaxmem = 128\nvcpus = 2\ncpus = \"all\"\ncpus_soft = [ \"0\" ]\ncmdline = \"c\"\n"
            + "root = \"/dev/xvda\"\nextra = \"e\"\non_poweroff = \"destroy\"\non_reboot = \"restart\"\non_crash = \"destroy\"\n"
            + "type = \"pv\"\nbuilder = \"generic\"\ncpu_weight = 512\nwarpback = 1\nwarpvalue = 10\nwarpl = 5\nwarpu = 9\n"
            + "disk = [ '/d.img,raw,xvda' ]\nvif = [ 'bridge=xenbr0' ]\nvfr_rules = [ 'action=deny' ]\n";
        const string mcuadv = "name = \"g\"\nkernel = \"/k\"\nmcuadv = 5\n"; // the share once more, instead of cpu_weight

        DomainConfig config = XlConfigParser.Parse(text, "all.cfg");
        DomainConfig other = XlConfigParser.Parse(mcuadv, "mcuadv.cfg");

        Assert.Empty(config.Warnings);
        Assert.Empty(other.Warnings);
        Assert.Equal(XlKeys.Understood.Order(), config.Raw.Keys.Union(other.Raw.Keys).Order());
    }

    [Fact]
    public void NoKeyIsBothUnderstoodAndUnsupported()
    {
        Assert.Empty(XlKeys.Understood.Intersect(XlKeys.NotSupported));
        Assert.Contains("disk", XlKeys.Understood);
        Assert.Contains("vif", XlKeys.Understood);
        Assert.Contains("vif2", XlKeys.NotSupported);
    }

    [Fact]
    public void BootloaderWithoutKernelNamesTheBootloader()
    {
        var error = Assert.Throws<ConfigException>(() => XlConfigParser.Parse("name = \"g\"\nbootloader = \"pygrub\"\nmemory = 512\n", "hello.cfg"));

        Assert.Equal(
            "hello.cfg:2: bootloader 'pygrub' is not supported; XenSharp boots only a 'kernel' named in the config, and this config names none",
            error.Message);
    }

    [Fact]
    public void BootloaderWithKernelIsOnlyAWarning()
    {
        DomainConfig config = XlConfigParser.Parse(Minimal + "bootloader = \"pygrub\"\n", "hello.cfg");

        Assert.Equal("/boot/vmlinuz", config.Kernel);
        Assert.Equal(["hello.cfg:3: warning: 'bootloader' is not supported yet and is ignored"], config.Warnings);
    }
}
