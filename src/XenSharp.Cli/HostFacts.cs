using System.Runtime.InteropServices;
using XenSharp.Hypervisor;

namespace XenSharp.Cli;

/// <summary>What decides where `xensharp run` runs its hypervisor: this host's KVM, or the helper machine (<see cref="EmulationPolicy"/>).</summary>
public sealed record HostFacts
{
    /// <summary>Set (to 1) by hwkvm/emulate for the xensharp it runs inside the helper machine: that one never emulates again.</summary>
    public const string InsideVariable = "XENSHARP_EMULATED";

    public const string DeviceVariable = "XENSHARP_KVM_DEVICE";

    /// <summary>The KVM device: /dev/kvm, or what $XENSHARP_KVM_DEVICE names.</summary>
    public required string KvmDevice { get; init; }

    /// <summary>$XENSHARP_KVM_DEVICE chose the device: a missing one is an error, not a reason to emulate.</summary>
    public bool KvmDeviceChosen { get; init; }

    public bool KvmDeviceExists { get; init; }

    public bool InsideHelperMachine { get; init; }

    public bool X64Linux { get; init; }

    /// <summary>hwkvm/emulate beside the CLI, or null when it is missing.</summary>
    public string? Runner { get; init; }

    public bool QemuInstalled { get; init; }

    public bool Root { get; init; }

    /// <summary>apt-get and dpkg-deb are on PATH: QEMU and the helper's kernel can be fetched (Debian).</summary>
    public bool Apt { get; init; }

    /// <summary>An earlier run left the helper's kernel and busybox in the download cache (${XDG_CACHE_HOME:-~/.cache}/xensharp-hwkvm).</summary>
    public bool PackagesCached { get; init; }

    /// <summary>
    /// This host, looked at without changing anything. Where it will run on its own KVM anyway (the device is there and
    /// <paramref name="emulationRequested"/> is false, or this is the helper machine) the facts about emulating are
    /// left false: looking for them would only cost time (on the helper machine's emulated CPU, a lot of it).
    /// </summary>
    public static HostFacts Probe(bool emulationRequested)
    {
        var kvm = new HostFacts
        {
            KvmDevice = XenHypervisor.KvmDevice,
            KvmDeviceChosen = Environment.GetEnvironmentVariable(DeviceVariable) is { Length: > 0 },
            KvmDeviceExists = Path.Exists(XenHypervisor.KvmDevice),
            InsideHelperMachine = Environment.GetEnvironmentVariable(InsideVariable) == "1",
        };
        if (kvm.InsideHelperMachine || (kvm.KvmDeviceExists && !emulationRequested))
        {
            return kvm;
        }

        string runner = Path.Combine(AppContext.BaseDirectory, "hwkvm", "emulate");
        return kvm with
        {
            X64Linux = OperatingSystem.IsLinux() && RuntimeInformation.OSArchitecture == Architecture.X64,
            Runner = File.Exists(runner) && File.Exists(Path.Combine(AppContext.BaseDirectory, "hwkvm", "machine")) ? runner : null,
            QemuInstalled = OnPath("qemu-system-x86_64"),
            Root = Environment.IsPrivilegedProcess,
            Apt = OnPath("apt-get") && OnPath("dpkg-deb"),
            PackagesCached = PackagesInCache(),
        };
    }

    private static bool OnPath(string program) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Any(d => File.Exists(Path.Combine(d, program)));

    private static bool PackagesInCache()
    {
        string? home = Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } x ? x
            : Environment.GetEnvironmentVariable("HOME") is { Length: > 0 } h ? Path.Combine(h, ".cache") : null;
        string cache = home is null ? "" : Path.Combine(home, "xensharp-hwkvm");
        return Directory.Exists(cache)
            && File.Exists(Path.Combine(cache, "busybox-static", ".unpacked"))
            && Directory.EnumerateDirectories(cache, "linux-image-*-amd64").Any(d => File.Exists(Path.Combine(d, ".unpacked")));
    }
}
