using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging.Abstractions;
using XenSharp.Hypervisor;
using XenSharp.Hypervisor.Logging;
using XenSharp.Hypervisor.Memory;
using XenSharp.Tests.Builder;
using XenSharp.Tests.Image;
using XenSharp.Toolstack.Daemon;
using static XenSharp.Tests.Image.XenNotes;

namespace XenSharp.Tests.Daemon;

/// <summary>
/// A daemon without KVM: the toolstack over a hypervisor with no machine (domains are built, not run: `create -p`),
/// its control socket in a temporary directory, and a kernel file for configs. Disposing stops it and removes the files.
/// </summary>
internal sealed class DaemonFixture : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("xsd").FullName;

    /// <param name="settings">The daemon's settings (the pool's size is the fixture's); null: the defaults.</param>
    /// <param name="pcpus">The scheduler's physical-CPU slots (1 unless a test pins vCPUs to several).</param>
    public DaemonFixture(DaemonSettings? settings = null, int pcpus = 1)
    {
        Hypervisor = new XenHypervisor(new HeapMachineMemory(96 << 20), new HypervisorLog(Ring), pcpus: pcpus);
        Toolstack = new DaemonToolstack(Hypervisor, Ring, NullLogger.Instance, (settings ?? new DaemonSettings()) with { PoolBytes = 96 << 20 });
        SocketPath = Path.Combine(_dir, "control.sock");
        Server = ControlServer.Start(SocketPath, Toolstack.HandleAsync, NullLogger.Instance);
        KernelPath = Path.Combine(_dir, "kernel.elf");
        File.WriteAllBytes(KernelPath, TestKernels.Generic([.. TestKernels.GenericNotes, U64(HypercallPage, TestDomains.HypercallPageVa)]).Build().Bytes);
    }

    public LogRing Ring { get; } = new(NullLogger.Instance);

    public XenHypervisor Hypervisor { get; }

    public DaemonToolstack Toolstack { get; }

    public ControlServer Server { get; }

    public string SocketPath { get; }

    public string KernelPath { get; }

    /// <summary>A config file for a domain of the test kernel.</summary>
    public string Config(string name, string extra = "")
    {
        string path = Path.Combine(_dir, name + ".cfg");
        File.WriteAllText(path, $"name = \"{name}\"\nkernel = \"kernel.elf\"\nmemory = 8\n{extra}");
        return path;
    }

    public ControlClient Connect() => ControlClient.Connect(SocketPath);

    /// <summary>`create -p` of <paramref name="name"/>: its domid.</summary>
    public int CreatePaused(string name, string extra = "")
    {
        string path = Config(name, extra);
        using ControlClient c = Connect();
        return c.Request(new JsonObject { ["verb"] = "create", ["config"] = File.ReadAllText(path), ["path"] = path, ["paused"] = true })["domid"]!.GetValue<int>();
    }

    public JsonObject Request(JsonObject request)
    {
        using ControlClient c = Connect();
        return c.Request(request);
    }

    public void Dispose()
    {
        Server.Dispose();
        Toolstack.Dispose();
        Hypervisor.Dispose();
        Directory.Delete(_dir, recursive: true);
    }
}
