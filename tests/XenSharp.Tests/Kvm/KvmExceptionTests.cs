using XenSharp.Kvm;
using Xunit;

namespace XenSharp.Tests.Kvm;

public class KvmExceptionTests
{
    [Fact]
    public void Message_names_the_ioctl_and_the_errno()
    {
        var e = new KvmException("KVM_SET_SREGS", 22);
        Assert.Equal("KVM_SET_SREGS failed: EINVAL (22)", e.Message);
        Assert.Equal("KVM_SET_SREGS", e.Ioctl);
        Assert.Equal(22, e.Errno);
    }

    [Fact]
    public void Context_goes_between_the_ioctl_and_the_errno() =>
        Assert.Equal("KVM_RUN failed (vCPU 3): EFAULT (14)", new KvmException("KVM_RUN", 14, "vCPU 3").Message);

    [Fact]
    public void Unnamed_errno_still_shows_its_number() =>
        Assert.Equal("KVM_RUN failed: errno 4000", new KvmException("KVM_RUN", 4000).Message);
}
