using XenSharp.Toolstack.Config;
using Xunit;

namespace XenSharp.Tests.Config;

/// <summary>Well-formed files whose settings we cannot use, each with its message and line.</summary>
public class DomainConfigErrorTests
{
    private const string Actions = "destroy, restart, preserve, rename-restart, coredump-destroy, coredump-restart, soft-reset";

    // The examples of the format's contract, word for word.
    public static TheoryData<string, string> DocumentedMessages => new()
    {
        { "name = \"x\"\nkernel = \"/k\"\nmemory 128\n", "hello.cfg:3: expected '=' after 'memory'" },
        { "name = \"x\"\nkernel = \"/k\"\n\n\nextra = \"console=hvc0\n", "hello.cfg:5: unterminated string" },
        { "name = \"x\"\nmemory = \"lots\"\nkernel = \"/k\"\n", "hello.cfg:2: memory must be a positive number of MiB, got \"lots\"" },
        { "name = \"x\"\n", "hello.cfg: no 'kernel' setting" },
        {
            "name = \"x\"\nkernel = \"/k\"\nvcpus = 1\non_crash = \"explode\"\n",
            $"hello.cfg:4: unknown on_crash action 'explode' (expected {Actions})"
        },
    };

    [Theory]
    [MemberData(nameof(DocumentedMessages))]
    public void DocumentedMessage(string text, string message)
    {
        Assert.Equal(message, Assert.Throws<ConfigException>(() => XlConfigParser.Parse(text, "hello.cfg")).Message);
    }

    public static TheoryData<string, string> Missing => new()
    {
        { "", "no 'kernel' setting" },
        { "\n\n", "no 'kernel' setting" },
        { "# nothing but a comment\n", "no 'kernel' setting" },
        { "\uFEFF", "no 'kernel' setting" },
        { "name = \"d\"", "no 'kernel' setting" },
        { "Kernel = \"/k\"\nname = \"d\"", "no 'kernel' setting" },
        { "kernel = \"/k\"", "no 'name' setting" },
        { "kernel = \"/k\"\nmemory = 64", "no 'name' setting" },
    };

    [Theory]
    [MemberData(nameof(Missing))]
    public void MissingRequiredSetting(string text, string detail)
    {
        var error = Assert.Throws<ConfigException>(() => XlConfigParser.Parse(text, "hello.cfg"));

        Assert.Equal($"hello.cfg: {detail}", error.Message);
        Assert.Equal(0, error.Line);
        Assert.Equal("hello.cfg", error.File);
    }

    // Each case is appended to a valid name and kernel, so its first line is line 3.
    public static TheoryData<string, int, string> Invalid => new()
    {
        // name
        { "name = \"\"", 3, "name must not be empty" },
        { "name = \"   \"", 3, "name '   ' must not be only whitespace" },
        { "name = \"\\t\"", 3, "name '\\t' must not be only whitespace" },
        { "name = \"a/b\"", 3, "name 'a/b' must not contain '/'" },
        { "name = \"/\"", 3, "name '/' must not contain '/'" },
        { "name = \"123\"", 3, "name '123' must not be all digits (xl would read it as a domain id)" },
        { "name = \"0\"", 3, "name '0' must not be all digits (xl would read it as a domain id)" },
        { "name = 123", 3, "name must be a string, got 123" },
        { "name = [ \"a\" ]", 3, "name must be a string, got a list" },
        { "\n\nname = \"line\\nbreak/\"", 5, "name 'line\\nbreak/' must not contain '/'" },

        // kernel and ramdisk
        { "kernel = \"\"", 3, "kernel must not be empty" },
        { "kernel = 0x1000", 3, "kernel must be a string, got 0x1000" },
        { "kernel = [ \"/a\", \"/b\" ]", 3, "kernel must be a string, got a list" },
        { "ramdisk = 1", 3, "ramdisk must be a string, got 1" },

        // memory, maxmem
        { "memory = \"lots\"", 3, "memory must be a positive number of MiB, got \"lots\"" },
        { "memory = 0", 3, "memory must be a positive number of MiB, got 0" },
        { "memory = 0x0", 3, "memory must be a positive number of MiB, got 0x0" },
        { "memory = \"0\"", 3, "memory must be a positive number of MiB, got \"0\"" },
        { "memory = \"-5\"", 3, "memory must be a positive number of MiB, got \"-5\"" },
        { "memory = \"\"", 3, "memory must be a positive number of MiB, got \"\"" },
        { "memory = \"128 \"", 3, "memory must be a positive number of MiB, got \"128 \"" },
        { "memory = \"128M\"", 3, "memory must be a positive number of MiB, got \"128M\"" },
        { "memory = \"08\"", 3, "memory must be a positive number of MiB, got \"08\"" },
        { "memory = [ 128 ]", 3, "memory must be a positive number of MiB, got a list" },
        { "memory = 2147483648", 3, "memory must be at most 2147483647 MiB, got 2147483648" },
        { "memory = \"99999999999999999999\"", 3, "memory must be a positive number of MiB, got \"99999999999999999999\"" },
        { "maxmem = 0", 3, "maxmem must be a positive number of MiB, got 0" },
        { "maxmem = \"big\"", 3, "maxmem must be a positive number of MiB, got \"big\"" },
        { "memory = 256\nmaxmem = 128", 4, "maxmem (128 MiB) must not be less than memory (256 MiB)" },
        { "maxmem = 64", 3, "maxmem (64 MiB) must not be less than memory (128 MiB)" },

        // vcpus
        { "vcpus = 0", 3, "vcpus must be a positive number, got 0" },
        { "vcpus = \"two\"", 3, "vcpus must be a positive number, got \"two\"" },
        { "vcpus = [ 1 ]", 3, "vcpus must be a positive number, got a list" },
        { "vcpus = 129", 3, "vcpus must be at most 128, got 129" },
        { "vcpus = \"1000\"", 3, "vcpus must be at most 128, got \"1000\"" },

        // command line
        { "extra = 5", 3, "extra must be a string, got 5" },
        { "root = [ \"/dev/xvda\" ]", 3, "root must be a string, got a list" },
        { "cmdline = 1", 3, "cmdline must be a string, got 1" },

        // shutdown actions
        { "on_crash = \"explode\"", 3, $"unknown on_crash action 'explode' (expected {Actions})" },
        { "on_poweroff = \"Destroy\"", 3, $"unknown on_poweroff action 'Destroy' (expected {Actions})" },
        { "on_reboot = \"rename_restart\"", 3, $"unknown on_reboot action 'rename_restart' (expected {Actions})" },
        { "on_reboot = \"\"", 3, $"unknown on_reboot action '' (expected {Actions})" },
        { "on_reboot = 1", 3, "on_reboot must be a string, got 1" },
        { "on_poweroff = [ \"destroy\" ]", 3, "on_poweroff must be a string, got a list" },

        // type and builder
        { "type = \"hvm\"", 3, "hvm domains are not supported (only pv)" },
        { "type = \"pvh\"", 3, "pvh domains are not supported (only pv)" },
        { "type = \"PV\"", 3, "unknown type 'PV' (expected pv, pvh or hvm)" },
        { "type = \"xen\"", 3, "unknown type 'xen' (expected pv, pvh or hvm)" },
        { "type = 1", 3, "type must be a string, got 1" },
        { "builder = \"hvm\"", 3, "hvm domains are not supported (only pv)" },
        { "builder = \"linux\"", 3, "unknown builder 'linux' (expected generic or hvm)" },
        { "builder = [ \"generic\" ]", 3, "builder must be a string, got a list" },
        { "type = \"pv\"\nbuilder = \"hvm\"", 4, "builder 'hvm' contradicts type 'pv'" },
        { "builder = \"generic\"\ntype = \"hvm\"", 3, "builder 'generic' contradicts type 'hvm'" },
        { "type = \"hvm\"\nbuilder = \"hvm\"", 3, "hvm domains are not supported (only pv)" },
    };

    [Theory]
    [MemberData(nameof(Invalid))]
    public void InvalidSetting(string lines, int line, string detail)
    {
        string text = "name = \"guest\"\nkernel = \"/k\"\n" + lines + "\n";

        var error = Assert.Throws<ConfigException>(() => XlConfigParser.Parse(text, "hello.cfg"));

        Assert.Equal($"hello.cfg:{line}: {detail}", error.Message);
        Assert.Equal(line, error.Line);
        Assert.Equal(detail, error.Detail);
        Assert.DoesNotContain('\n', error.Message);
    }

    [Fact]
    public void ValidSyntaxIsNotCheckedAgainstMeaningInTheRawLayer()
    {
        var settings = XlConfigParser.ParseSettings("memory = \"lots\"\nname = \"123\"", "hello.cfg");

        Assert.Equal(new ConfigString("lots", 1), settings["memory"]);
    }
}
