using System.Buffers.Binary;
using XenSharp.Abi;
using XenSharp.Hypervisor.Hypercalls;
using XenSharp.Hypervisor.Pv.Policy;
using Xunit;

namespace XenSharp.Tests.Emulation;

/// <summary>set_segment_base, fpu_taskswitch, set/get_debugreg and physdev_op.</summary>
public sealed class PrivilegedHypercallTests : EmulationFixture
{
    [Fact]
    public void SetSegmentBaseWritesTheRightMsr()
    {
        Assert.Equal(0, Call(HypercallNumber.SetSegmentBase, SegmentHypercalls.SegbaseFs, 0x7000_1000));
        Assert.Equal(0x7000_1000UL, Machine.Msrs[MsrIndex.FsBase]);
        Assert.Equal(0, Call(HypercallNumber.SetSegmentBase, SegmentHypercalls.SegbaseGsKernel, 0xffff_8880_0000_2000));
        Assert.Equal(0xffff_8880_0000_2000UL, Machine.Msrs[MsrIndex.GsBase]);
        Assert.Equal(0, Call(HypercallNumber.SetSegmentBase, SegmentHypercalls.SegbaseGsUser, 0x7000_3000));
        Assert.Equal(0x7000_3000UL, Machine.Msrs[MsrIndex.ShadowGsBase]); // inactive in kernel mode
        Assert.Equal(0, Call(HypercallNumber.SetSegmentBase, SegmentHypercalls.SegbaseGsUserSel, 0));
        Assert.Equal(0UL, Machine.Msrs[MsrIndex.ShadowGsBase]);           // NUL selector: base 0
        Assert.Equal(0, Call(HypercallNumber.SetSegmentBase, SegmentHypercalls.SegbaseGsUserSel, XenSelectors.FlatRing3Ds));
        Assert.Equal(0UL, Machine.Msrs[MsrIndex.ShadowGsBase]);
        Assert.Equal(-XenErrno.EINVAL, Call(HypercallNumber.SetSegmentBase, SegmentHypercalls.SegbaseFs, 0x0000_8000_0000_0000));
        Assert.Equal(-XenErrno.EINVAL, Call(HypercallNumber.SetSegmentBase, 4, 0));
        Assert.Equal(0x7000_1000UL, Machine.Msrs[MsrIndex.FsBase]);
    }

    [Fact]
    public void FpuTaskswitchTogglesVirtualTs()
    {
        Assert.Equal(0, Call(HypercallNumber.FpuTaskswitch, 1));
        Assert.NotEqual(0UL, V.VirtualCr0 & 8);
        Assert.Equal(0, Call(HypercallNumber.FpuTaskswitch, 0));
        Assert.Equal(0UL, V.VirtualCr0 & 8);
    }

    [Fact]
    public void DebugRegisterRules()
    {
        V.DebugRegistersDirty = false;
        Assert.Equal(0, Call(HypercallNumber.SetDebugreg, 3, 0xffff_ffff_8000_0000));
        Assert.True(V.DebugRegistersDirty); // the machine loads them before the guest runs again
        V.DebugRegistersDirty = false;
        Assert.Equal(unchecked((long)0xffff_ffff_8000_0000), Call(HypercallNumber.GetDebugreg, 3));
        Assert.Equal(-XenErrno.EPERM, Call(HypercallNumber.SetDebugreg, 0, XenVirtualLayout.HypervisorVirtStart));
        Assert.False(V.DebugRegistersDirty);
        Assert.Equal(-XenErrno.EPERM, Call(HypercallNumber.SetDebugreg, 0, 0x0000_8000_0000_0000));
        Assert.Equal(-XenErrno.EINVAL, Call(HypercallNumber.SetDebugreg, 6, 1UL << 32));
        Assert.Equal(-XenErrno.EINVAL, Call(HypercallNumber.SetDebugreg, 7, 1UL << 32));
        Assert.Equal(-XenErrno.EPERM, Call(HypercallNumber.SetDebugreg, 7, 0x2000));       // GD
        Assert.Equal(-XenErrno.ENODEV, Call(HypercallNumber.SetDebugreg, 8, 0));
        Assert.Equal(-XenErrno.ENODEV, Call(HypercallNumber.GetDebugreg, 8));

        // DR6: reserved bits forced to their fixed values; DR4 aliases it without CR4.DE.
        Assert.Equal(0, Call(HypercallNumber.SetDebugreg, 4, 0x1001));
        Assert.Equal(0xffff0ff1L, Call(HypercallNumber.GetDebugreg, 6));
        // DR7: bits 12, 14, 15 and (without RTM) 11 forced to 0, bit 10 to 1.
        Assert.Equal(0, Call(HypercallNumber.SetDebugreg, 5, 0xd801));
        Assert.Equal(0x401L, Call(HypercallNumber.GetDebugreg, 7));

        // An I/O breakpoint needs CR4.DE; refusing it leaves the old DR7 alone (XTF debug-regs "bug 2").
        ulong io = 0x400 | 2 | (2UL << 16);
        Assert.Equal(-XenErrno.EPERM, Call(HypercallNumber.SetDebugreg, 7, io));
        Assert.Equal(0x401L, Call(HypercallNumber.GetDebugreg, 7));
        V.VirtualCr4 |= 1UL << 3;
        Assert.Equal(-XenErrno.ENODEV, Call(HypercallNumber.SetDebugreg, 4, 0));
        Assert.Equal(-XenErrno.ENODEV, Call(HypercallNumber.GetDebugreg, 5));
        Assert.Equal(0, Call(HypercallNumber.SetDebugreg, 7, io));
        Assert.Equal((long)io, Call(HypercallNumber.GetDebugreg, 7));
        Assert.Equal(0, Call(HypercallNumber.SetDebugreg, 7, 0x400 | (2UL << 20))); // inactive I/O breakpoint in DR1
        Assert.Equal(0x400L | (2L << 20), Call(HypercallNumber.GetDebugreg, 7));    // no stale DR0 enable (XTF "bug 1")
    }

    [Fact]
    public void PhysdevOpAsForADomU()
    {
        Put(Data, new byte[16]);
        Assert.Equal(-XenErrno.EPERM, Call(HypercallNumber.PhysdevOp, PhysdevHypercall.MapPirq, Data));
        Assert.Equal(-XenErrno.EPERM, Call(HypercallNumber.PhysdevOp, PhysdevHypercall.ApicRead, Data));
        Assert.Equal(-XenErrno.EINVAL, Call(HypercallNumber.PhysdevOp, PhysdevHypercall.Eoi, Data));
        Assert.Equal(-XenErrno.ENOSYS, Call(HypercallNumber.PhysdevOp, 99, Data));
        Assert.Equal(-XenErrno.ENOSYS, Call(HypercallNumber.PhysdevOp, PhysdevHypercall.GetFreePirq, Data));
        Assert.Equal(-XenErrno.EFAULT, Call(HypercallNumber.PhysdevOp, PhysdevHypercall.SetIopl, 0x0000_7000_0000_0000));

        Put(Data, [3, 0, 0, 0, 0, 0, 0, 0]);
        Assert.Equal(0, Call(HypercallNumber.PhysdevOp, PhysdevHypercall.IrqStatusQuery, Data));
        Assert.Equal(PhysdevHypercall.IrqNeedsEoi, BinaryPrimitives.ReadUInt32LittleEndian(Get(Data + 4, 4)));

        var gmfn = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(gmfn, D.P2m[0x202].Value);
        Put(Data, gmfn);
        Assert.Equal(0, Call(HypercallNumber.PhysdevOp, PhysdevHypercall.PirqEoiGmfnV2, Data));
        Assert.Equal(-XenErrno.EBUSY, Call(HypercallNumber.PhysdevOp, PhysdevHypercall.PirqEoiGmfnV2, Data));
        BinaryPrimitives.WriteUInt64LittleEndian(gmfn, 1); // not the domain's
        Put(Data, gmfn);
        Assert.Equal(-XenErrno.EINVAL, Call(HypercallNumber.PhysdevOp, PhysdevHypercall.PirqEoiGmfnV1, Data));
    }
}
