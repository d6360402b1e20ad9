using XenSharp.Backends.Xenstore;
using XenSharp.Hypervisor.Memory;
using XenSharp.Toolstack.Builder;
using XenSharp.Toolstack.Config;
using XenSharp.Toolstack.Store;
using Xunit;

namespace XenSharp.Tests.Store;

/// <summary>The nodes the toolstack writes for a PV domU, with xl's permissions, and their removal.</summary>
public sealed class XlStoreNodesTests : IDisposable
{
    private static readonly Guid Uuid = Guid.Parse("8b0c2ad4-5f37-4a5e-9d53-2f1f9d1a2b3c");
    private readonly XenStore _store = new();
    private readonly XsClient _dom0;

    public XlStoreNodesTests()
    {
        _dom0 = _store.Connect(0);
        Assert.Equal(XsError.None, XlStoreNodes.WriteDom0(_dom0));
        var config = new DomainConfig { Name = "guest", Kernel = "/k/vmlinuz", MemoryMiB = 32, MaxMemoryMiB = 64, Vcpus = 2, CommandLine = "quiet" };
        var rings = new DomainRings(new Mfn(0x1234), 1, new Mfn(0x1235), 2);
        Assert.Equal(XsError.None, XlStoreNodes.Write(_dom0, 5, Uuid, config, rings, new DateTime(2026, 1, 2, 3, 4, 5, 670, DateTimeKind.Utc)));
    }

    public void Dispose() => _dom0.Dispose();

    [Fact]
    public void TheDomainSeesWhatXlWrites()
    {
        using XsClient g = _store.Connect(5);
        Assert.Equal("guest", g.Read("name"));
        Assert.Equal("5", g.Read("domid"));
        Assert.Equal("/vm/8b0c2ad4-5f37-4a5e-9d53-2f1f9d1a2b3c", g.Read("vm"));
        Assert.Equal("32768", g.Read("memory/target"));
        Assert.Equal("65536", g.Read("memory/static-max"));
        Assert.Equal("online", g.Read("cpu/0/availability"));
        Assert.Equal("online", g.Read("cpu/1/availability"));
        Assert.Equal("1", g.Read("store/port"));
        Assert.Equal("4660", g.Read("store/ring-ref"));
        Assert.Equal("2", g.Read("console/port"));
        Assert.Equal("4661", g.Read("console/ring-ref"));
        Assert.Equal("1048576", g.Read("console/limit"));
        Assert.Equal("xenconsoled", g.Read("console/type"));
        Assert.Equal("pty", g.Read("console/output"));
        Assert.Equal("/local/domain/0/backend/console/5/0", g.Read("console/backend"));
        Assert.Equal("1", g.Read("control/platform-feature-xs_reset_watches"));
        Assert.Equal([], g.Directory("device")!.Where(d => d != "suspend"));
        Assert.Equal("guest", g.Read("/vm/8b0c2ad4-5f37-4a5e-9d53-2f1f9d1a2b3c/name"));
        Assert.Equal("/k/vmlinuz", g.Read("/vm/8b0c2ad4-5f37-4a5e-9d53-2f1f9d1a2b3c/image/kernel"));
        Assert.Equal("1767323045.67", g.Read("/vm/8b0c2ad4-5f37-4a5e-9d53-2f1f9d1a2b3c/start_time"));
        Assert.Equal("Domain-0", _dom0.Read("/local/domain/0/name"));
        Assert.Null(g.Read("/local/domain/0/name"));
    }

    [Fact]
    public void TheDomainWritesOnlyWhereXlLetsIt()
    {
        using XsClient g = _store.Connect(5);
        foreach (string writable in new[] { "data/x", "control/shutdown", "control/feature-poweroff", "feature/x", "error/x", "drivers/x", "attr/x", "device/suspend/event-channel" })
        {
            Assert.Equal(XsError.None, g.Write(writable, "1"));
        }

        foreach (string readOnly in new[] { "name", "domid", "memory/target", "console/port", "cpu/0/availability", "control/x", "device/vbd", "newtop" })
        {
            Assert.Equal(XsError.EACCES, g.Write(readOnly, "1"));
        }

        Assert.Equal(["n0", "r5"], g.GetPermissions("/local/domain/5")!);
        Assert.Equal(["n5"], g.GetPermissions("data")!);
        Assert.Equal(["n5", "r0"], g.GetPermissions("console/backend-id")!);
    }

    [Fact]
    public void RemoveTakesTheDomainsNodesAway()
    {
        XlStoreNodes.Remove(_dom0, 5);
        Assert.Null(_dom0.Read("/local/domain/5"));
        Assert.Null(_dom0.Read("/vm/8b0c2ad4-5f37-4a5e-9d53-2f1f9d1a2b3c"));
        Assert.Null(_dom0.Read("/local/domain/0/backend/console/5"));
        Assert.Equal("Domain-0", _dom0.Read("/local/domain/0/name"));
    }
}
