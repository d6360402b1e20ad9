using XenSharp.Toolstack.Config;
using Xunit;

namespace XenSharp.Tests.Config;

/// <summary>How settings become a <see cref="DomainConfig"/>, and xl's defaults when they are absent.</summary>
public class DomainConfigTests
{
    private const string Minimal = "name = \"guest\"\nkernel = \"/boot/vmlinuz\"\n";

    private static DomainConfig ParseWith(string lines) => XlConfigParser.Parse(Minimal + lines, "/etc/xen/guest.cfg");

    [Fact]
    public void XtfTestConfig()
    {
        const string text =
            "name=\"test-pv64-example\"\nvcpus=1\ntype=\"pv\"\nloader=\"generic\"\nmemory=128\nkernel=\"/x/test-pv64-example\"\ncmdline=\"hypercall\"\n";

        var config = XlConfigParser.Parse(text, "/x/test-pv64-example.cfg");

        Assert.Equal("test-pv64-example", config.Name);
        Assert.Equal("/x/test-pv64-example", config.Kernel);
        Assert.Null(config.Ramdisk);
        Assert.Equal(128, config.MemoryMiB);
        Assert.Equal(128, config.MaxMemoryMiB);
        Assert.Equal(1, config.Vcpus);
        Assert.Equal("hypercall", config.CommandLine);
        Assert.Equal("pv", config.Type);
        Assert.Equal(ShutdownAction.Destroy, config.OnPoweroff);
        Assert.Equal(ShutdownAction.Restart, config.OnReboot);
        Assert.Equal(ShutdownAction.Destroy, config.OnCrash);
        Assert.Equal("/x/test-pv64-example.cfg", config.SourcePath);
        Assert.Equal(["name", "vcpus", "type", "loader", "memory", "kernel", "cmdline"], config.Raw.Keys);
        Assert.Equal(new ConfigString("generic", 4), config.Raw["loader"]);
    }

    [Fact]
    public void AbsentSettingsTakeXlDefaults()
    {
        var config = XlConfigParser.Parse(Minimal, "/etc/xen/guest.cfg");

        var expected = new DomainConfig
        {
            Name = "guest",
            Kernel = "/boot/vmlinuz",
            Raw = config.Raw,
            SourcePath = "/etc/xen/guest.cfg",
        };
        Assert.Equal(expected, config);
        Assert.Equal(128, config.MemoryMiB);
        Assert.Equal(128, config.MaxMemoryMiB);
        Assert.Equal(1, config.Vcpus);
        Assert.Equal("", config.CommandLine);
        Assert.Equal("pv", config.Type);
    }

    [Fact]
    public void MaxMemoryFollowsMemoryUntilSet()
    {
        var config = new DomainConfig { Name = "d", Kernel = "/k", MemoryMiB = 512 };

        Assert.Equal(512, config.MaxMemoryMiB);
        Assert.Equal(1024, (config with { MemoryMiB = 1024 }).MaxMemoryMiB);
        Assert.Equal(2048, (config with { MaxMemoryMiB = 2048 }).MaxMemoryMiB);
    }

    [Fact]
    public void ParsedMaxMemoryFollowsMemoryOnlyWhenNotGiven()
    {
        var unset = ParseWith("memory = 256");
        var set = ParseWith("memory = 256\nmaxmem = 256");

        Assert.Equal(1024, (unset with { MemoryMiB = 1024 }).MaxMemoryMiB);
        Assert.Equal(256, (set with { MemoryMiB = 1024 }).MaxMemoryMiB);
    }

    public static TheoryData<string, int, int, int> Numbers => new()
    {
        { "memory = 256", 256, 256, 1 },
        { "memory = \"256\"", 256, 256, 1 },
        { "memory = ' 256'", 256, 256, 1 },
        { "memory = \"+256\"", 256, 256, 1 },
        { "memory = 0x100", 256, 256, 1 },
        { "memory = \"0x100\"", 256, 256, 1 },
        { "memory = 0400", 256, 256, 1 },
        { "memory = 1\nmaxmem = 1", 1, 1, 1 },
        { "memory = 256\nmaxmem = 1024", 256, 1024, 1 },
        { "maxmem = \"512\"", 128, 512, 1 },
        { "memory = 2147483647", int.MaxValue, int.MaxValue, 1 },
        { "vcpus = 4", 128, 128, 4 },
        { "vcpus = \"4\"", 128, 128, 4 },
        { "vcpus = 128", 128, 128, 128 },
        { "memory = 64\nmemory = 512", 512, 512, 1 },
    };

    [Theory]
    [MemberData(nameof(Numbers))]
    public void NumericSettings(string lines, int memory, int maxMemory, int vcpus)
    {
        var config = ParseWith(lines);

        Assert.Equal(memory, config.MemoryMiB);
        Assert.Equal(maxMemory, config.MaxMemoryMiB);
        Assert.Equal(vcpus, config.Vcpus);
    }

    public static TheoryData<string, string> CommandLines => new()
    {
        { "", "" },
        { "extra = \"console=hvc0\"", "console=hvc0" },
        { "root = \"/dev/xvda1 ro\"", "root=/dev/xvda1 ro" },
        { "root = \"/dev/xvda1\"\nextra = \"console=hvc0 quiet\"", "root=/dev/xvda1 console=hvc0 quiet" },
        { "extra = \"console=hvc0\"\nroot = \"/dev/xvda1\"", "root=/dev/xvda1 console=hvc0" },
        { "cmdline = \"hypercall\"", "hypercall" },
        { "cmdline = \"hypercall\"\nextra = \"ignored\"", "hypercall" },
        { "root = \"/dev/ignored\"\ncmdline = \"hypercall\"\nextra = \"ignored\"", "hypercall" },
        { "cmdline = \"\"\nextra = \"ignored\"", "" },
        { "extra = \"a\"\nextra += \" b\"", "a b" },
    };

    [Theory]
    [MemberData(nameof(CommandLines))]
    public void CommandLineCombinesLikeXl(string lines, string expected)
    {
        Assert.Equal(expected, ParseWith(lines).CommandLine);
    }

    public static TheoryData<string, ShutdownAction> ActionNames => new()
    {
        { "destroy", ShutdownAction.Destroy },
        { "restart", ShutdownAction.Restart },
        { "preserve", ShutdownAction.Preserve },
        { "rename-restart", ShutdownAction.RenameRestart },
        { "coredump-destroy", ShutdownAction.CoredumpDestroy },
        { "coredump-restart", ShutdownAction.CoredumpRestart },
        { "soft-reset", ShutdownAction.SoftReset },
    };

    [Theory]
    [MemberData(nameof(ActionNames))]
    public void ShutdownActionsByXlName(string name, ShutdownAction action)
    {
        Assert.Equal(action, ParseWith($"on_poweroff = \"{name}\"").OnPoweroff);
        Assert.Equal(action, ParseWith($"on_reboot = '{name}'").OnReboot);
        Assert.Equal(action, ParseWith($"on_crash = \"{name}\"").OnCrash);
    }

    [Fact]
    public void EachShutdownEventIsIndependent()
    {
        var config = ParseWith("on_poweroff = \"preserve\"\non_reboot = \"destroy\"\non_crash = \"coredump-restart\"");

        Assert.Equal(ShutdownAction.Preserve, config.OnPoweroff);
        Assert.Equal(ShutdownAction.Destroy, config.OnReboot);
        Assert.Equal(ShutdownAction.CoredumpRestart, config.OnCrash);
    }

    [Theory]
    [InlineData("")]
    [InlineData("type = \"pv\"")]
    [InlineData("builder = \"generic\"")]
    [InlineData("type = \"pv\"\nbuilder = \"generic\"")]
    [InlineData("builder = \"generic\"\ntype = \"pv\"")]
    public void PvTypeSpellings(string lines)
    {
        Assert.Equal("pv", ParseWith(lines).Type);
    }

    public static TheoryData<string, string, string, string?> Paths => new()
    {
        { "/etc/xen/guest.cfg", "/boot/vmlinuz", "/boot/vmlinuz", null },
        { "/etc/xen/guest.cfg", "vmlinuz", "/etc/xen/vmlinuz", null },
        { "/etc/xen/guest.cfg", "./kernels/vmlinuz", "/etc/xen/kernels/vmlinuz", null },
        { "/etc/xen/guest.cfg", "../../boot/vmlinuz", "/boot/vmlinuz", null },
        { "/srv/vm/a.cfg", "k", "/srv/vm/k", "ramdisk = \"initrd.img\"" },
        { "/srv/vm/a.cfg", "k", "/srv/vm/k", "ramdisk = \"/boot/initrd.img\"" },
        { "/srv/vm/a.cfg", "k", "/srv/vm/k", "ramdisk = \"\"" },
    };

    [Theory]
    [MemberData(nameof(Paths))]
    public void PathsResolveAgainstTheConfigDirectory(string source, string kernel, string expectedKernel, string? ramdiskLine)
    {
        var config = XlConfigParser.Parse($"name = \"d\"\nkernel = \"{kernel}\"\n{ramdiskLine}\n", source);

        Assert.Equal(expectedKernel, config.Kernel);
        string? expectedRamdisk = ramdiskLine switch
        {
            "ramdisk = \"initrd.img\"" => "/srv/vm/initrd.img",
            "ramdisk = \"/boot/initrd.img\"" => "/boot/initrd.img",
            _ => null,
        };
        Assert.Equal(expectedRamdisk, config.Ramdisk);
    }

    [Fact]
    public void RelativeSourcePathResolvesFromTheCurrentDirectory()
    {
        var config = XlConfigParser.Parse("name = \"d\"\nkernel = \"vmlinuz\"", "hello.cfg");

        Assert.Equal(Path.GetFullPath("vmlinuz"), config.Kernel);
        Assert.Equal("hello.cfg", config.SourcePath);
    }

    [Fact]
    public void KernelFileNeedNotExist()
    {
        var config = XlConfigParser.Parse("name = \"d\"\nkernel = \"/nonexistent/vmlinuz\"", "/nonexistent/d.cfg");

        Assert.Equal("/nonexistent/vmlinuz", config.Kernel);
    }

    [Theory]
    [InlineData("guest")]
    [InlineData("test-pv64-example")]
    [InlineData("a")]
    [InlineData("1st guest")]
    [InlineData("guest1")]
    [InlineData("0x10")]
    [InlineData(" spaced ")]
    [InlineData("ünïcode")]
    public void AcceptableNames(string name)
    {
        Assert.Equal(name, XlConfigParser.Parse($"name = \"{name}\"\nkernel = \"/k\"", "/d.cfg").Name);
    }

    [Fact]
    public void RawKeepsEverySettingIncludingUnknownOnes()
    {
        const string text =
            "name = \"d\"\nkernel = \"/k\"\nvif = [ 'bridge=xenbr0', ]\non_watchdog = \"destroy\"\nmax_grant_frames = 64\n" +
            "vnuma = [ [ \"pnode=0\", \"size=512\" ],\n          [ \"pnode=1\", \"size=512\" ] ]\n";

        var config = XlConfigParser.Parse(text, "/d.cfg");

        Assert.Equal(["name", "kernel", "vif", "on_watchdog", "max_grant_frames", "vnuma"], config.Raw.Keys);
        Assert.Equal(new ConfigList([new ConfigString("bridge=xenbr0", 3)], 3), config.Raw["vif"]);
        Assert.Equal(new ConfigNumber(64, 5), config.Raw["max_grant_frames"]);
        var vnuma = Assert.IsType<ConfigList>(config.Raw["vnuma"]);
        Assert.Equal([6, 7], vnuma.Items.Select(i => i.Line));
        Assert.Equal(XlConfigParser.ParseSettings(text, "/d.cfg"), config.Raw);
    }

    [Fact]
    public void DuplicateSettingsKeepTheLast()
    {
        var config = XlConfigParser.Parse(
            "name = \"first\"\nkernel = \"/k1\"\nname = \"second\"\nkernel = \"/k2\"\nvcpus = 2\nvcpus = 3", "/d.cfg");

        Assert.Equal("second", config.Name);
        Assert.Equal("/k2", config.Kernel);
        Assert.Equal(3, config.Vcpus);
        Assert.Equal(3, config.Raw["name"].Line);
    }

    [Fact]
    public void CommentsSemicolonsAndEscapesTogether()
    {
        const string text =
            "# A guest.\r\n" +
            "name = 'guest';  # the name\r\n" +
            "kernel = \"/boot/vmlinuz\"; memory = 0x200;\r\n" +
            "extra = \"console=hvc0 msg=\\\"hi\\\"\\tend\\x21\"\r\n" +
            "vcpus = '2'\r\n";

        var config = XlConfigParser.Parse(text, "/d.cfg");

        Assert.Equal("guest", config.Name);
        Assert.Equal("/boot/vmlinuz", config.Kernel);
        Assert.Equal(512, config.MemoryMiB);
        Assert.Equal(2, config.Vcpus);
        Assert.Equal("console=hvc0 msg=\"hi\"\tend!", config.CommandLine);
    }
}
