using XenSharp.Hypervisor;
using XenSharp.Hypervisor.Domains;
using XenSharp.Hypervisor.Hypercalls;
using XenSharp.Hypervisor.Pv;
using XenSharp.Hypervisor.Pv.Policy;
using XenSharp.Hypervisor.Stub;
using XenSharp.Tests.Builder;
using Xunit;

namespace XenSharp.Tests.Emulation;

/// <summary>
/// A domain on heap memory with a fake machine behind vCPU 0: instruction bytes go to <see cref="Code"/> (kernel pages
/// are writable in the test domain), registers into the stub frame, then <see cref="PrivilegedOps.TryEmulate(Vcpu, int, PvCpuidPolicy)"/>.
/// </summary>
public abstract class EmulationFixture : IDisposable
{
    /// <summary>Guest VAs inside the initial mapping, past the kernel's boot data.</summary>
    protected const ulong Code = 0x200000;
    protected const ulong Data = 0x201000;

    private protected EmulationFixture(IReadOnlyList<XenSharp.Hypervisor.Pv.Policy.HostCpuidLeaf>? host = null)
    {
        Hv = TestDomains.Hypervisor(Log);
        D = TestDomains.Build(Hv);
        V = D.Vcpus[0];
        V.Machine = Machine;
        Policy = new PvCpuidPolicy(host ?? HostCpuid.PvmAmd, tscKhz: 2_000_000);
    }

    protected StringWriter Log { get; } = new();

    protected XenHypervisor Hv { get; }

    private protected Domain D { get; }

    private protected Vcpu V { get; }

    private protected FakeVcpuMachine Machine { get; } = new();

    private protected PvCpuidPolicy Policy { get; }

    public void Dispose() => Hv.Dispose();

    /// <summary>Places <paramref name="bytes"/> at <see cref="Code"/> and RIP there, then emulates the fault.</summary>
    private protected EmulationResult Run(int vector, params byte[] bytes)
    {
        Put(Code, bytes);
        V.FrameSet(StubFrame.Rip, Code);
        return PrivilegedOps.TryEmulate(V, vector, Policy);
    }

    private protected EmulationResult Gp(params byte[] bytes) => Run(13, bytes);

    protected void Put(ulong va, ReadOnlySpan<byte> bytes) => Assert.True(V.CopyToGuest(va, bytes));

    protected byte[] Get(ulong va, int n)
    {
        var b = new byte[n];
        Assert.True(V.CopyFromGuest(va, b));
        return b;
    }

    protected ulong Reg(int offset) => V.FrameGet(offset);

    protected void SetReg(int offset, ulong value) => V.FrameSet(offset, value);

    protected ulong Rip => V.FrameGet(StubFrame.Rip);

    protected long Call(int nr, ulong a1 = 0, ulong a2 = 0, ulong a3 = 0) =>
        (long)HypercallDispatcher.Dispatch(V, (ulong)nr, a1, a2, a3, 0, 0);

    private protected static void AssertEmulated(EmulationResult r) => Assert.Equal(EmulationOutcome.Emulated, r.Outcome);

    private protected static void AssertFault(EmulationResult r, int vector, ulong? error)
    {
        Assert.Equal(EmulationOutcome.Fault, r.Outcome);
        Assert.Equal(vector, r.Vector);
        Assert.Equal(error, r.ErrorCode);
    }

    private protected static void AssertNotHandled(EmulationResult r) => Assert.Equal(EmulationOutcome.NotHandled, r.Outcome);

    /// <summary>Registers a #GP handler (as XTF and Linux do once their IDT is set up).</summary>
    protected void InstallGpHandler() => V.TrapTable[13] = new Abi.TrapInfo(13, 0, 0xe033, 0x100000);
}
