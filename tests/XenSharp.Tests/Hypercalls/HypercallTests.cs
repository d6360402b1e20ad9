using System.Buffers.Binary;
using System.Text;
using XenSharp.Abi;
using XenSharp.Hypervisor;
using XenSharp.Hypervisor.Domains;
using XenSharp.Hypervisor.Hypercalls;
using XenSharp.Tests.Builder;
using Xunit;

namespace XenSharp.Tests.Hypercalls;

/// <summary>Hypercall handlers against a domain built on heap memory: arguments placed in guest memory, results checked there.</summary>
public sealed class HypercallTests : IDisposable
{
    private const ulong Scratch = 0x200000; // guest VA inside the initial mapping, past the kernel's boot data
    private readonly StringWriter _log = new();
    private readonly XenHypervisor _hv;
    private readonly CapturingConsole _console = new();
    private readonly Domain _d;
    private readonly Vcpu _v;

    public HypercallTests()
    {
        _hv = TestDomains.Hypervisor(_log);
        _d = TestDomains.Build(_hv, console: _console);
        _v = _d.Vcpus[0];
    }

    public void Dispose() => _hv.Dispose();

    private long Call(int nr, ulong a1 = 0, ulong a2 = 0, ulong a3 = 0, ulong a4 = 0, ulong a5 = 0) =>
        (long)HypercallDispatcher.Dispatch(_v, (ulong)nr, a1, a2, a3, a4, a5);

    private void Put(ulong va, ReadOnlySpan<byte> bytes) => Assert.True(_v.CopyToGuest(va, bytes));

    private byte[] Get(ulong va, int n)
    {
        var b = new byte[n];
        Assert.True(_v.CopyFromGuest(va, b));
        return b;
    }

    [Fact]
    public void UnknownHypercallIsEnosysAndLoggedOnce()
    {
        for (int i = 0; i < 30; i++)
        {
            Assert.Equal(-XenErrno.ENOSYS, Call(60));
        }

        Assert.Equal(-XenErrno.ENOSYS, (long)HypercallDispatcher.Dispatch(_v, ulong.MaxValue, 0, 0, 0, 0, 0));
        string log = _log.ToString();
        Assert.Contains($"(d{_d.Id}v0) unimplemented hypercall 60", log);
        Assert.True(log.Split('\n').Count(l => l.Contains("hypercall 60")) <= 11);
    }

    [Fact]
    public void ConsoleWriteCopiesGuestBytesAndFaultsOnBadBuffers()
    {
        Put(Scratch, "hi there"u8);
        Assert.Equal(0, Call(HypercallNumber.ConsoleIo, ConsoleIoOp.Write, 8, Scratch));
        Assert.Equal("hi there", _console.Text);
        Assert.Equal(-XenErrno.EFAULT, Call(HypercallNumber.ConsoleIo, ConsoleIoOp.Write, 8, 0xffff828000000000));
        Assert.Equal(-XenErrno.EFAULT, Call(HypercallNumber.ConsoleIo, ConsoleIoOp.Write, 8, 0x0000800000000000));
        Assert.Equal(-XenErrno.EFAULT, Call(HypercallNumber.ConsoleIo, ConsoleIoOp.Write, uint.MaxValue, Scratch));
        Assert.Equal(-XenErrno.ENOSYS, Call(HypercallNumber.ConsoleIo, 7, 0, 0));
    }

    [Fact]
    public void ConsoleReadReturnsPendingInput()
    {
        foreach (byte b in "ab"u8.ToArray())
        {
            _console.Input.Enqueue(b);
        }

        Assert.Equal(2, Call(HypercallNumber.ConsoleIo, ConsoleIoOp.Read, 16, Scratch));
        Assert.Equal("ab"u8.ToArray(), Get(Scratch, 2));
        Assert.Equal(0, Call(HypercallNumber.ConsoleIo, ConsoleIoOp.Read, 16, Scratch));
    }

    [Fact]
    public void XenVersionAnswers()
    {
        Assert.Equal((4 << 16) | 17, Call(HypercallNumber.XenVersion, XenVersionOp.Version));
        Assert.Equal(0, Call(HypercallNumber.XenVersion, XenVersionOp.Capabilities, Scratch));
        Assert.StartsWith("xen-3.0-x86_64 ", Encoding.ASCII.GetString(Get(Scratch, 32)));
        Assert.Equal(4096, Call(HypercallNumber.XenVersion, XenVersionOp.PageSize));
        Put(Scratch, new byte[8]);
        Assert.Equal(0, Call(HypercallNumber.XenVersion, XenVersionOp.GetFeatures, Scratch));
        Put(Scratch, [1, 0, 0, 0]);
        Assert.Equal(-XenErrno.EINVAL, Call(HypercallNumber.XenVersion, XenVersionOp.GetFeatures, Scratch));
        Assert.Equal(-XenErrno.EPERM, Call(HypercallNumber.XenVersion, XenVersionOp.CommandLine, Scratch));
        Assert.Equal(-XenErrno.EFAULT, Call(HypercallNumber.XenVersion, XenVersionOp.ExtraVersion, 0xffff800000000000));
        Assert.Equal(0, Call(HypercallNumber.XenVersion, XenVersionOp.PlatformParameters, Scratch));
        Assert.Equal(XenVirtualLayout.HypervisorVirtStart, BinaryPrimitives.ReadUInt64LittleEndian(Get(Scratch, 8)));
    }

    [Fact]
    public void GetFeaturesReportsWhatXen417ReportsToAPvDomU()
    {
        uint Submap0()
        {
            Put(Scratch, new byte[8]);
            Assert.Equal(0, Call(HypercallNumber.XenVersion, XenVersionOp.GetFeatures, Scratch));
            return BinaryPrimitives.ReadUInt32LittleEndian(Get(Scratch + 4, 4));
        }

        // mmu_pt_update_preserve_ad, highmem_assist, gnttab_map_avail_bits, memory_op_vnode_supported, direct_mapped.
        Assert.Equal((1u << 5) | (1u << 6) | (1u << 7) | (1u << 13) | (1u << 17), Submap0());
        Assert.Equal(0, Call(HypercallNumber.VmAssist, VmAssist.CmdEnable, VmAssist.TypePaeExtendedCr3));
        Assert.Equal((1u << 4) | (1u << 5) | (1u << 6) | (1u << 7) | (1u << 13) | (1u << 17), Submap0());
    }

    [Fact]
    public void GetVnumaInfoIsEopnotsuppForADomainWithoutVnuma()
    {
        var topology = new byte[40];
        BinaryPrimitives.WriteUInt16LittleEndian(topology, MemoryOp.DomidSelf);
        Put(Scratch, topology);
        Assert.Equal(-XenErrno.EOPNOTSUPP, Call(HypercallNumber.MemoryOp, MemoryOp.GetVnumaInfo, Scratch));
        Assert.Equal(-XenErrno.EINVAL, Call(HypercallNumber.MemoryOp, MemoryOp.GetVnumaInfo | (1UL << MemoryOp.ContinuationShift), Scratch));
        BinaryPrimitives.WriteUInt16LittleEndian(topology, 0x7000);
        Put(Scratch, topology);
        Assert.Equal(-XenErrno.ESRCH, Call(HypercallNumber.MemoryOp, MemoryOp.GetVnumaInfo, Scratch));
        BinaryPrimitives.WriteUInt16LittleEndian(topology, _d.Id);
        topology[2] = 1;
        Put(Scratch, topology);
        Assert.Equal(-XenErrno.EINVAL, Call(HypercallNumber.MemoryOp, MemoryOp.GetVnumaInfo, Scratch));
        Assert.Equal(-XenErrno.EFAULT, Call(HypercallNumber.MemoryOp, MemoryOp.GetVnumaInfo, 0x100000000000));
    }

    [Fact]
    public void XenpmuOpIsEopnotsuppAsWithoutVpmu()
    {
        Assert.Equal(-XenErrno.EOPNOTSUPP, Call(HypercallNumber.XenpmuOp, 0, Scratch));
        Assert.Equal(-XenErrno.EOPNOTSUPP, Call(HypercallNumber.XenpmuOp, 2, 0));
        Assert.DoesNotContain("unimplemented hypercall 40", _log.ToString());
    }

    [Fact]
    public void VmAssistAcceptsOnlyPv64Types()
    {
        Assert.Equal(0, Call(HypercallNumber.VmAssist, VmAssist.CmdEnable, VmAssist.TypeWritablePageTables));
        Assert.Equal(1UL << 2, _d.VmAssist);
        Assert.Equal(0, Call(HypercallNumber.VmAssist, VmAssist.CmdDisable, VmAssist.TypeWritablePageTables));
        Assert.Equal(-XenErrno.EINVAL, Call(HypercallNumber.VmAssist, VmAssist.CmdEnable, 6));
        Assert.Equal(-XenErrno.EINVAL, Call(HypercallNumber.VmAssist, VmAssist.CmdEnable, 99));
        Assert.Equal(-XenErrno.ENOSYS, Call(HypercallNumber.VmAssist, 5, VmAssist.TypeM2pStrict));
    }

    [Fact]
    public void TrapTableIsReadUntilAZeroAddress()
    {
        var table = new byte[3 * 16];
        table[0] = 14; table[1] = 4; BinaryPrimitives.WriteUInt16LittleEndian(table.AsSpan(2), 0xe030); BinaryPrimitives.WriteUInt64LittleEndian(table.AsSpan(8), 0x101000);
        table[16] = 3; table[17] = 3; BinaryPrimitives.WriteUInt64LittleEndian(table.AsSpan(24), 0x102000);
        Put(Scratch, table);
        Assert.Equal(0, Call(HypercallNumber.SetTrapTable, Scratch));
        Assert.Equal(new TrapInfo(14, 4, 0xe033, 0x101000), _v.TrapTable[14]);
        Assert.Equal(0x102000UL, _v.TrapTable[3].Address);
        Assert.Equal(0, Call(HypercallNumber.SetTrapTable, 0));
        Assert.Equal(0UL, _v.TrapTable[14].Address);

        BinaryPrimitives.WriteUInt64LittleEndian(table.AsSpan(8), 0x0000900000000000);
        Put(Scratch, table);
        Assert.Equal(-XenErrno.EINVAL, Call(HypercallNumber.SetTrapTable, Scratch));
        Assert.Equal(-XenErrno.EFAULT, Call(HypercallNumber.SetTrapTable, 0xffff828000000000));
    }

    [Fact]
    public void CallbacksRegisterAndOnlyNmiUnregisters()
    {
        var reg = new byte[16];
        foreach (int type in new[] { CallbackType.Event, CallbackType.Failsafe, CallbackType.Syscall, CallbackType.Syscall32, CallbackType.Sysenter, CallbackType.Nmi })
        {
            BinaryPrimitives.WriteUInt16LittleEndian(reg, (ushort)type);
            BinaryPrimitives.WriteUInt64LittleEndian(reg.AsSpan(8), 0x100000 + (ulong)type);
            Put(Scratch, reg);
            Assert.Equal(0, Call(HypercallNumber.CallbackOp, CallbackType.OpRegister, Scratch));
        }

        Assert.Equal(0x100000UL, _v.EventCallback);
        Assert.Equal(0x100007UL, _v.Syscall32Callback);
        Assert.Equal(0, Call(HypercallNumber.CallbackOp, CallbackType.OpUnregister, Scratch));
        BinaryPrimitives.WriteUInt16LittleEndian(reg, CallbackType.Event);
        Put(Scratch, reg);
        Assert.Equal(-XenErrno.EINVAL, Call(HypercallNumber.CallbackOp, CallbackType.OpUnregister, Scratch));
        BinaryPrimitives.WriteUInt16LittleEndian(reg, 9);
        Put(Scratch, reg);
        Assert.Equal(-XenErrno.ENOSYS, Call(HypercallNumber.CallbackOp, CallbackType.OpRegister, Scratch));
        Assert.Equal(0, Call(HypercallNumber.SetCallbacks, 1, 2, 3));
        Assert.Equal((1UL, 2UL, 3UL), (_v.EventCallback, _v.FailsafeCallback, _v.SyscallCallback));
        Assert.Equal(-XenErrno.EINVAL, Call(HypercallNumber.SetCallbacks, 0x0000800000000000, 2, 3));
    }

    [Fact]
    public void MemoryOpAnswersOnlyAboutItself()
    {
        Put(Scratch, [0xf0, 0x7f]);
        Assert.Equal(4096, Call(HypercallNumber.MemoryOp, MemoryOp.CurrentReservation, Scratch));
        Assert.Equal(4096, Call(HypercallNumber.MemoryOp, MemoryOp.MaximumReservation, Scratch));
        Put(Scratch, [(byte)_d.Id, 0]);
        Assert.Equal(4096, Call(HypercallNumber.MemoryOp, MemoryOp.CurrentReservation, Scratch));
        Put(Scratch, [(byte)(_d.Id + 1), 0]);
        Assert.Equal(-XenErrno.EPERM, Call(HypercallNumber.MemoryOp, MemoryOp.CurrentReservation, Scratch));
        Assert.Equal(0, Call(HypercallNumber.MemoryOp, MemoryOp.MachphysMapping, Scratch));
        Assert.Equal(XenVirtualLayout.MachToPhysStart, BinaryPrimitives.ReadUInt64LittleEndian(Get(Scratch, 8)));
        Assert.Equal(-XenErrno.ENOSYS, Call(HypercallNumber.MemoryOp, 40, Scratch));
    }

    [Fact]
    public void ShutdownEndsTheDomainWithTheGuestsReason()
    {
        Put(Scratch, [9, 0, 0, 0]);
        Assert.Equal(-XenErrno.EINVAL, Call(HypercallNumber.SchedOp, SchedOp.Shutdown, Scratch));
        Put(Scratch, [(byte)ShutdownReason.Crash, 0, 0, 0]);
        Assert.Equal(0, Call(HypercallNumber.SchedOp, SchedOp.Shutdown, Scratch));
        Assert.Equal(DomainState.Shutdown, _d.State);
        Assert.Equal(ShutdownReason.Crash, _d.ShutdownReason);
        Assert.True(_d.Ended.IsCompleted);
        Assert.Equal(-XenErrno.EPERM, Call(HypercallNumber.SchedOp, SchedOp.RemoteShutdown, Scratch));
        Assert.Equal(0, Call(HypercallNumber.SchedOp, SchedOp.Yield));
    }

    [Fact]
    public void StackSwitchRecordsTheKernelStack()
    {
        Assert.Equal(0, Call(HypercallNumber.StackSwitch, 0xe02b, 0x123450));
        Assert.Equal((0xe02bUL, 0x123450UL), (_v.KernelSs, _v.KernelSp));
    }
}
