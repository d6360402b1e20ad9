using XenSharp.Abi;
using XenSharp.Hypervisor;
using XenSharp.Hypervisor.Domains;
using XenSharp.Tests.Builder;
using Xunit;

namespace XenSharp.Tests.Domains;

/// <summary>
/// A vCPU's whole context: get → set → get is the same record; a bad context (non-canonical address, a selector that
/// is not the guest's, a bad CR3 frame, GDT/LDT out of bounds, reserved MXCSR bits) is an errno with nothing changed,
/// never an exception; a running (not quiescent) vCPU is -EBUSY.
/// </summary>
public sealed class VcpuContextTests : IDisposable
{
    private readonly XenHypervisor _hv;
    private readonly Domain _d;
    private readonly Vcpu _v;

    public VcpuContextTests()
    {
        _hv = TestDomains.Hypervisor();
        _d = TestDomains.Build(_hv, vcpus: 2);
        _v = _d.Vcpus[0];
    }

    public void Dispose() => _hv.Dispose();

    [Fact]
    public void GetSetGetRoundTrips()
    {
        VcpuContext before = _v.GetContext();
        Assert.True(before.InKernel);
        Assert.Equal(_v.KernelL4.Value, before.KernelCr3Frame);
        Assert.Equal(0, _v.SetContext(before));
        Assert.Equal(before, _v.GetContext());
    }

    [Fact]
    public void AChangedContextIsWhatGetReturns()
    {
        byte[] fx = _v.GetContext().Fxsave;
        fx[160] = 0x5a; // xmm0
        VcpuContext changed = _v.GetContext() with
        {
            Rax = 0x1234, R15 = 0xfeed, Rip = 0x101000, FsBase = 0x7000_0000_0000, GsBaseKernel = 0x1000,
            GsBaseUser = 0x2000, EventCallback = 0x102000, Cr2 = 0xdead000, Rflags = 0x3202, Fxsave = fx,
        };
        Assert.Equal(0, _v.SetContext(changed));
        VcpuContext after = _v.GetContext();
        Assert.Equal(changed, after);
        Assert.Equal(3, _v.VirtualIopl); // IOPL is virtual: carried in the record's RFLAGS
        Assert.Equal(0x102000UL, _v.EventCallback);
        Assert.Equal(0, _v.SetContext(after));
        Assert.Equal(after, _v.GetContext());
    }

    public static TheoryData<string> BadContexts => new()
    {
        "rip non-canonical", "kernel sp non-canonical", "fs base non-canonical", "callback non-canonical",
        "trap handler non-canonical", "cs is the hypervisor's", "cs RPL 0", "ss null", "ds changed",
        "cr3 frame 0", "cr3 frame not the domain's", "cr3 frame not an L4", "user mode without user tables",
        "user cr3 not an L4", "gdt frame count", "gdt too many entries", "gdt frame not the domain's", "ldt misaligned",
        "ldt in the hypervisor", "ldt too many entries", "mxcsr reserved", "dr7 above 32 bits",
        "breakpoint in the hypervisor", "vm_assist unknown", "short trap table", "short fxsave",
    };

    [Theory]
    [MemberData(nameof(BadContexts))]
    public void ABadContextIsAnErrnoAndChangesNothing(string what)
    {
        VcpuContext good = _v.GetContext();
        ulong dataFrame = _d.P2m[0x200].Value; // an ordinary page of the guest's (not a page table)
        TrapInfo[] traps = (TrapInfo[])good.TrapTable.Clone();
        traps[14] = new TrapInfo(14, 0, 0xe033, 0x0000_8000_0000_0000);
        ulong[] dr = (ulong[])good.DebugRegisters.Clone();
        byte[] fx = (byte[])good.Fxsave.Clone();
        VcpuContext bad = what switch
        {
            "rip non-canonical" => good with { Rip = 0x0000_8000_0000_0000 },
            "kernel sp non-canonical" => good with { KernelSp = 0x00ff_0000_0000_0000 },
            "fs base non-canonical" => good with { FsBase = 0x8000_0000_0000_0000 },
            "callback non-canonical" => good with { FailsafeCallback = 0x0001_0000_0000_0000 },
            "trap handler non-canonical" => good with { TrapTable = traps },
            "cs is the hypervisor's" => good with { Cs = 0xe008 | 3 },
            "cs RPL 0" => good with { Cs = 0xe030 },
            "ss null" => good with { Ss = 3 },
            "ds changed" => good with { Ds = 0x2b },
            "cr3 frame 0" => good with { KernelCr3Frame = 0 },
            "cr3 frame not the domain's" => good with { KernelCr3Frame = 0xfffff },
            "cr3 frame not an L4" => good with { KernelCr3Frame = dataFrame },
            "user mode without user tables" => good with { InKernel = false, UserCr3Frame = 0 },
            "user cr3 not an L4" => good with { UserCr3Frame = dataFrame },
            "gdt frame count" => good with { GdtEntries = 600, GdtFrames = [dataFrame] },
            "gdt too many entries" => good with { GdtEntries = 8192, GdtFrames = new ulong[16] },
            "gdt frame not the domain's" => good with { GdtEntries = 16, GdtFrames = [0xfffff] },
            "ldt misaligned" => good with { LdtBase = 0x100008, LdtEntries = 16 },
            "ldt in the hypervisor" => good with { LdtBase = 0xffff_8000_0000_0000, LdtEntries = 16 },
            "ldt too many entries" => good with { LdtBase = 0x100000, LdtEntries = 8193 },
            "mxcsr reserved" => good with { Fxsave = Set(fx, 26, (byte)1) },
            "dr7 above 32 bits" => good with { DebugRegisters = Set(dr, 7, 1UL << 32) },
            "breakpoint in the hypervisor" => good with { DebugRegisters = Set(dr, 0, 0xffff_8000_0000_0000) },
            "vm_assist unknown" => good with { VmAssist = 1UL << 20 },
            "short trap table" => good with { TrapTable = new TrapInfo[255] },
            "short fxsave" => good with { Fxsave = new byte[511] },
            _ => throw new ArgumentException(what),
        };

        int rc = _v.SetContext(bad);
        Assert.True(rc < 0, $"{what}: {rc}");
        Assert.Equal(good, _v.GetContext());
        Assert.Equal(0, _v.SetContext(good)); // every reference was given back: the good one still sets
    }

    [Fact]
    public void ARunningVcpuIsBusy()
    {
        Vcpu v1 = _d.Vcpus[1];
        v1.Lifecycle.ThreadStarted(); // a thread runs it, and it is not parked
        Assert.Equal(-XenErrno.EBUSY, v1.SetContext(v1.GetContext() with { KernelCr3Frame = _v.KernelL4.Value }));
    }

    private static T[] Set<T>(T[] a, int i, T value)
    {
        a[i] = value;
        return a;
    }
}
