using Xunit;

namespace XenSharp.IntegrationTests.Support;

/// <summary>The hostile guest's modes that must crash the domain, and what the crash reason has to name.</summary>
public static class HostileModes
{
    public static TheoryData<string> Crashing => new() { "write-hypervisor", "write-m2p", "privileged", "noncanonical" };

    /// <summary>Every mode, including spin (which only a timeout stops).</summary>
    public static TheoryData<string> All => new() { "write-hypervisor", "write-m2p", "privileged", "noncanonical", "spin" };

    /// <summary>Asserts that a crash reason (or a log holding one) names the offending instruction or address.</summary>
    public static void AssertNamesOffender(string mode, string text)
    {
        switch (mode)
        {
            case "write-hypervisor":
                Assert.Contains("mov", text);
                Assert.Contains("0xffff828000000000", text);
                break;
            case "write-m2p":
                Assert.Contains("0xffff800000000000", text);
                break;
            case "privileged":
                Assert.Contains("lgdt", text);
                break;
            case "noncanonical":
                // The #GP is reported at the jmp or at its target, depending on the CPU.
                Assert.True(
                    text.Contains("jmp", StringComparison.Ordinal) || text.Contains("not canonical", StringComparison.Ordinal),
                    $"the crash reason names neither the jmp nor a non-canonical address: {text}");
                break;
            default:
                throw new ArgumentException($"mode {mode} does not crash", nameof(mode));
        }
    }
}
