using XenSharp.IntegrationTests.Support;
using XenSharp.Kvm;
using Xunit;
using Xunit.Abstractions;

namespace XenSharp.IntegrationTests;

/// <summary>
/// Which KVM these tests ran on, in the test's output (so the TRX records it): kvm_pvm and hardware KVM enter
/// the stub differently, and a result means little without knowing which. The hardware lane (tests/hwkvm/run)
/// sets XENSHARP_EXPECT_KVM_KIND=Amd, so a lane that did not really run on kvm_amd fails here.
/// </summary>
public sealed class MachineKindTests(ITestOutputHelper output)
{
    [KvmFact]
    public void KvmKind_IsRecordedAndIsTheExpectedOne()
    {
        KvmKind kind = KvmSystem.DetectKind();
        output.WriteLine($"KVM kind: {kind}");

        if (Environment.GetEnvironmentVariable("XENSHARP_EXPECT_KVM_KIND") is { Length: > 0 } expected)
        {
            Assert.Equal(expected, kind.ToString(), ignoreCase: true);
        }
    }
}
