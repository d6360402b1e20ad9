using XenSharp.Backends.Net;
using XenSharp.Kvm;
using Xunit;

namespace XenSharp.Tests.Net;

/// <summary>
/// The VFR's uplinks by name (a vif's `bridge=`): one TAP per name, shared, made in the caller's network namespace and
/// gone when disposed; names and failures are answered in one line. The TAP tests run on a thread in a network
/// namespace of their own.
/// </summary>
public sealed class VfrUplinksTests
{
    private const uint SiocGifflags = 0x8913;

    [Theory]
    [InlineData("")]
    [InlineData("a-name-too-long-x")]
    [InlineData("xs%d")]
    [InlineData("a/b")]
    [InlineData("a b")]
    public void ANameThatIsNoInterfaceNameIsRefusedWithoutOpeningAnything(string name)
    {
        bool opened = false;
        using var uplinks = new VfrUplinks(new Vfr(), _ => { opened = true; throw new IOException("unreachable"); });
        var e = Assert.Throws<VfrUplinkException>(() => uplinks.Ensure(name));
        Assert.Equal($"'{name}' is not an interface name (1 to 15 printable characters, none of / : % or space)", e.Message);
        Assert.False(opened);
    }

    [Theory]
    [InlineData("TUNSETIFF xs0: EPERM (1)", "not permitted: a TAP needs root or CAP_NET_ADMIN")]
    [InlineData("TUNSETIFF xs0: EINVAL (22)", "xs0 exists and is not a TAP (a bridge or another interface; XenSharp uplinks through a TAP)")]
    [InlineData("TUNSETIFF xs0: EBUSY (16)", "xs0 is in use by another process")]
    [InlineData("TUNSETIFF xs0: ENOMEM (12)", "TUNSETIFF xs0: ENOMEM (12)")]
    public void AFailedOpenSaysWhyInOneLineAndLeavesNothing(string error, string why)
    {
        var vfr = new Vfr();
        using var uplinks = new VfrUplinks(vfr, _ => throw new IOException(error));
        var e = Assert.Throws<VfrUplinkException>(() => uplinks.Ensure("xs0"));
        Assert.Equal($"cannot open TAP xs0 for the VFR's uplink: {why}", e.Message);
        Assert.Empty(uplinks.Open);
        Assert.Empty(vfr.Ports);
    }

    [Fact]
    public void NoTunDeviceIsNamed()
    {
        using var uplinks = new VfrUplinks(new Vfr(), _ => throw new FileNotFoundException("/dev/net/tun"));
        Assert.Equal("cannot open TAP xs0 for the VFR's uplink: no /dev/net/tun (load the tun module)", Assert.Throws<VfrUplinkException>(() => uplinks.Ensure("xs0")).Message);
    }

    [TapFact]
    public void ANameMakesOneTapSharedByEveryoneAndDisposeRemovesIt() => OwnNetns.Run(() =>
    {
        var vfr = new Vfr();
        var uplinks = new VfrUplinks(vfr);
        TapUplink first = uplinks.Ensure("xsup0");
        Assert.Same(first, uplinks.Ensure("xsup0"));
        Assert.True(InterfaceExists("xsup0"));
        Assert.Equal(["uplink xsup0"], vfr.Ports.Select(p => p.Name));

        // An interface that is not a TAP (the namespace's loopback) is refused by name, and the others stay.
        var e = Assert.Throws<VfrUplinkException>(() => uplinks.Ensure("lo"));
        Assert.Equal("cannot open TAP lo for the VFR's uplink: lo exists and is not a TAP (a bridge or another interface; XenSharp uplinks through a TAP)", e.Message);
        Assert.Equal(["xsup0"], uplinks.Open.Keys);

        uplinks.Dispose();
        Assert.False(InterfaceExists("xsup0"));
        Assert.Empty(vfr.Ports);
        Assert.Throws<ObjectDisposedException>(() => uplinks.Ensure("xsup0"));
    });

    private static bool InterfaceExists(string name)
    {
        using var s = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.InterNetwork, System.Net.Sockets.SocketType.Dgram, System.Net.Sockets.ProtocolType.Udp);
        var ifr = new byte[HostTap.InterfaceRequestSize];
        System.Text.Encoding.ASCII.GetBytes(name).CopyTo(ifr, 0);
        return HostTap.InterfaceIoctl(s.SafeHandle, SiocGifflags, ifr) == 0;
    }
}
