using XenSharp.Hypervisor.Pv;
using Xunit;

namespace XenSharp.Tests.Stub;

public class HypercallPageTests
{
    [Fact]
    public void StubsHaveXensLayout()
    {
        byte[] page = HypercallPage.Create();
        Assert.Equal(new byte[] { 0x51, 0x41, 0x53, 0xb8, 0x11, 0, 0, 0, 0x0f, 0x05, 0x41, 0x5b, 0x59, 0xc3, 0xcc }, page.AsSpan(17 * 32, 15).ToArray());
        Assert.Equal(new byte[] { 0x51, 0x41, 0x53, 0x50, 0xb8, 0x17, 0, 0, 0, 0x0f, 0x05, 0xcc }, page.AsSpan(23 * 32, 12).ToArray());
    }
}
