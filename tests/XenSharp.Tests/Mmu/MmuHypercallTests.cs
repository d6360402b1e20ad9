using System.Buffers.Binary;
using XenSharp.Abi;
using XenSharp.Hypervisor.Hypercalls;
using XenSharp.Hypervisor.Memory;
using XenSharp.Hypervisor.Pv.Mmu;
using XenSharp.Hypervisor.Stub;
using Xunit;

namespace XenSharp.Tests.Mmu;

/// <summary>The MMU hypercalls beyond isolation: base pointers, flushes, ptwr emulation, descriptor tables, multicall, memory_op.</summary>
public sealed class MmuHypercallTests : IDisposable
{
    private readonly MmuFixture _f = new();
    private readonly Mfn _l1;

    public MmuHypercallTests() => _l1 = _f.HookFreshL1();

    public void Dispose() => _f.Dispose();

    private byte FlushRequested => _f.Pool.Memory.GetSpan(_f.D.StubPages.DataMachineAddress(0) + StubLayout.DataFlushTlb, 1)[0];

    private void ClearFlush() => _f.Pool.Memory.GetSpan(_f.D.StubPages.DataMachineAddress(0) + StubLayout.DataFlushTlb, 1)[0] = 0;

    [Fact]
    public void UpdateVaMappingFlushesAsAsked()
    {
        Mfn data = _f.Free(1);
        ClearFlush();
        Assert.Equal(0, _f.UpdateVaMapping(MmuFixture.HookedVa(1), data.Address | MmuFixture.Rw, MmuAbi.UvmfNone));
        Assert.Equal(0, FlushRequested);
        Assert.True(_f.V.CopyToGuest(MmuFixture.HookedVa(1), [9]));
        Assert.Equal(9, _f.Pool.Frame(data)[0]);
        Assert.Equal(0, _f.UpdateVaMapping(MmuFixture.HookedVa(1), data.Address | MmuFixture.Ro, MmuAbi.UvmfInvlpg | MmuAbi.UvmfLocal));
        Assert.Equal(1, FlushRequested);
        Assert.False(_f.V.CopyToGuest(MmuFixture.HookedVa(1), [9]));
        // A VA whose L2 entry is empty, or in the hypervisor's hole, has no L1 to update.
        Assert.Equal(-XenErrno.EINVAL, _f.UpdateVaMapping(1UL << 40, data.Address | MmuFixture.Ro));
        Assert.Equal(-XenErrno.EINVAL, _f.UpdateVaMapping(0xffff828000000000, data.Address | MmuFixture.Ro));
        Assert.Equal(-XenErrno.EINVAL, _f.UpdateVaMapping(0x0000800000000000, data.Address | MmuFixture.Ro));
        // UVMF_MULTI: a bitmap in guest memory; an unreadable one is -EFAULT (after the update, as in Xen).
        _f.Put(MmuFixture.Aux, [1, 0, 0, 0, 0, 0, 0, 0]);
        ClearFlush();
        Assert.Equal(0, _f.UpdateVaMapping(MmuFixture.HookedVa(1), 0, MmuAbi.UvmfTlbFlush | MmuFixture.Aux));
        Assert.Equal(1, FlushRequested);
        Assert.Equal(-XenErrno.EFAULT, _f.UpdateVaMapping(MmuFixture.HookedVa(1), 0, MmuAbi.UvmfTlbFlush | 0x0000700000000000));
    }

    [Fact]
    public void NewBasePtrLoadsCr3AndMovesTheReference()
    {
        Mfn l4 = _f.Free(0);
        _f.Entries(l4)[0] = _f.Entries(_f.InitialL4)[0];
        Assert.Equal(0, _f.Mmuext(MmuAbi.NewBasePtr, l4.Value)); // validated on the way (Xen's new_guest_cr3 does that)
        Assert.Equal(l4, _f.V.KernelL4);
        Assert.Equal(l4.Address, BinaryPrimitives.ReadUInt64LittleEndian(_f.Pool.Memory.GetSpan(_f.D.StubPages.DataMachineAddress(0) + StubLayout.DataPendingCr3, 8)));
        Assert.Equal((PageType.L4, 1u), (_f.Frames[l4].Type, _f.Frames[l4].TypeCount));
        Assert.Equal((PageType.L4, 1u), (_f.Frames[_f.InitialL4].Type, _f.Frames[_f.InitialL4].TypeCount)); // just the pin now
        Assert.NotEqual(0UL, _f.Entries(l4)[256]);

        Assert.Equal(0, _f.Mmuext(MmuAbi.NewUserBasePtr, _f.InitialL4.Value));
        Assert.Equal(_f.InitialL4, _f.V.UserL4);
        Assert.Equal(2u, _f.Frames[_f.InitialL4].TypeCount);
        Assert.Equal(0, _f.Mmuext(MmuAbi.NewUserBasePtr, 0));
        Assert.Null(_f.V.UserL4);
        Assert.Equal(0, _f.Mmuext(MmuAbi.NewBasePtr, _f.InitialL4.Value));
        Assert.Equal(PageType.None, _f.Frames[l4].Type);
        Assert.Equal(0u, _f.Frames[l4].RefCount);
    }

    [Fact]
    public void MmuextFlushesLdtAndPageCommands()
    {
        ClearFlush();
        Assert.Equal(0, _f.Mmuext(MmuAbi.TlbFlushLocal));
        Assert.Equal(1, FlushRequested);
        ClearFlush();
        Assert.Equal(0, _f.Mmuext(MmuAbi.InvlpgAll, 0x1000));
        Assert.Equal(1, FlushRequested);
        _f.Put(MmuFixture.Aux, [1, 0, 0, 0, 0, 0, 0, 0]);
        Assert.Equal(0, _f.Mmuext(MmuAbi.TlbFlushMulti, 0, MmuFixture.Aux));
        Assert.Equal(-XenErrno.EINVAL, _f.Mmuext(MmuAbi.InvlpgMulti, 0, 0x0000700000000000));
        Assert.Equal(-XenErrno.EACCES, _f.Mmuext(MmuAbi.FlushCache));
        Assert.Equal(-XenErrno.EACCES, _f.Mmuext(MmuAbi.FlushCacheGlobal));
        Assert.Equal(-XenErrno.ENOSYS, _f.Mmuext(14));
        Assert.Equal(-XenErrno.ENOSYS, _f.Mmuext(99));

        Assert.Equal(0, _f.Mmuext(MmuAbi.SetLdt, 0x300000, 16));
        Assert.Equal((0x300000UL, 16u), (_f.D.Mmu.VcpuState(0).LdtBase, _f.D.Mmu.VcpuState(0).LdtEntries));
        Assert.Equal(-XenErrno.EINVAL, _f.Mmuext(MmuAbi.SetLdt, 0x300008, 16));
        Assert.Equal(-XenErrno.EINVAL, _f.Mmuext(MmuAbi.SetLdt, 0x300000, 8193));
        Assert.Equal(-XenErrno.EINVAL, _f.Mmuext(MmuAbi.SetLdt, 0xffff800000000000, 1));
        Assert.Equal(0, _f.Mmuext(MmuAbi.SetLdt, 0, 0));

        Mfn page = _f.Free(1);
        _f.Pool.Frame(page).Fill(0x5a);
        Assert.Equal(0, _f.Mmuext(MmuAbi.CopyPage, _f.Free(2).Value, page.Value));
        Assert.Equal(0x5a, _f.Pool.Frame(_f.Free(2))[4095]);
        Assert.Equal(0, _f.Mmuext(MmuAbi.ClearPage, page.Value));
        Assert.Equal(0, _f.Pool.Frame(page)[100]);
        Assert.Equal(-XenErrno.EINVAL, _f.Mmuext(MmuAbi.ClearPage, _f.InitialL1.Value));    // a page table
        Assert.Equal(-XenErrno.EINVAL, _f.Mmuext(MmuAbi.CopyPage, _f.InitialL1.Value, page.Value));
        Assert.Equal(-XenErrno.EINVAL, _f.Mmuext(MmuAbi.ClearPage, 0));                     // Xen's M2P frame
        Assert.Equal(0, _f.Mmuext(MmuAbi.CopyPage, page.Value, _f.InitialL1.Value));         // reading a table is fine

        // A batch stops at the first failure and reports what it did.
        Assert.Equal((-XenErrno.EACCES, 1u), _f.MmuextBatch(MmuAbi.DomidSelf, (MmuAbi.TlbFlushLocal, 0, 0), (MmuAbi.FlushCache, 0, 0), (MmuAbi.TlbFlushLocal, 0, 0)));
        _f.AssertCountsConsistent();
    }

    [Fact]
    public void HostWritesToTablesAreRecordedForShadowSync()
    {
        Span<ulong> drained = stackalloc ulong[64];
        while (_f.D.Mmu.DrainHostWrites(drained) > 0)
        {
        }

        Assert.Equal(0, _f.D.Mmu.PendingHostWrites);
        Assert.Equal(0, _f.UpdateVaMapping(MmuFixture.HookedVa(1), _f.Free(1).Address | MmuFixture.Rw));
        Assert.Equal(0, _f.SetEntry(_f.InitialL2, 101, 0));
        Assert.Equal(0, SetGdt(1, _f.Free(10)));
        int n = _f.D.Mmu.DrainHostWrites(drained);
        ulong[] got = drained[..n].ToArray();

        // Each recorded write is the machine address of the entry the host changed.
        ulong hooked = MmuFixture.HookedVa(1);
        Assert.Contains(_l1.Address + (((hooked >> 12) & 511) * 8), got);
        Assert.Contains(_f.InitialL2.Address + (101 * 8), got);
        Assert.Contains(_f.D.StubPages.WindowsL1.Address + ((ulong)DomainStubPages.GdtL1Index(0, 0) * 8), got);
        Assert.Equal(0, _f.D.Mmu.PendingHostWrites);
        Assert.Equal(0, SetGdt(0));
    }

    // ---- writable page tables --------------------------------------------------------------------------------

    private const ulong Code = MmuFixture.Aux + 0x800;

    /// <summary>Maps the hooked L1 read-only at its own slot 0 and points RDI at its slot <paramref name="slot"/>.</summary>
    private ulong PrepareWrite(byte[] code, int slot)
    {
        Assert.Equal(0, _f.UpdateVaMapping(MmuFixture.HookedVa(0), _l1.Address | MmuFixture.Ro));
        _f.Put(Code, code);
        _f.V.FrameSet(StubFrame.Rip, Code);
        ulong target = MmuFixture.HookedVa(0) + ((ulong)slot * 8);
        _f.V.FrameSet(StubFrame.Rdi, target);
        _f.D.VmAssist |= 1UL << VmAssist.TypeWritablePageTables;
        return target;
    }

    private const ulong WriteFault = 7; // P | W | U (the guest kernel runs in ring 3)

    [Fact]
    public void PtwrEmulatesAValidatedStore()
    {
        Mfn data = _f.Free(1);
        ulong cr2 = PrepareWrite([0x48, 0x89, 0x07], 5); // mov [rdi], rax
        _f.V.FrameSet(StubFrame.Rax, data.Address | MmuFixture.Rw);
        Assert.True(WritablePageTables.TryEmulate(_f.V, cr2, WriteFault));
        Assert.Equal(Code + 3, _f.V.FrameGet(StubFrame.Rip));
        Assert.Equal(data.Address | MmuFixture.Rw | PageTableFlags.User | PageTableFlags.GuestKernel, _f.Entries(_l1)[5]);
        Assert.Equal((PageType.Writable, 1u, 1u), (_f.Frames[data].Type, _f.Frames[data].TypeCount, _f.Frames[data].RefCount));

        // A PTE that would map a page table writable: not emulated (the guest gets its #PF); nothing changes.
        PrepareWrite([0x48, 0x89, 0x07], 6);
        _f.V.FrameSet(StubFrame.Rax, _f.InitialL2.Address | MmuFixture.Rw);
        Assert.False(WritablePageTables.TryEmulate(_f.V, cr2 + 8, WriteFault));
        Assert.Equal(Code, _f.V.FrameGet(StubFrame.Rip));
        Assert.Equal(0UL, _f.Entries(_l1)[6]);

        // A 4-byte immediate store into the high half (NX bit), merged with the rest of the PTE.
        PrepareWrite([0xc7, 0x47, 0x2c, 0x00, 0x00, 0x00, 0x80], 5); // mov dword [rdi+0x2c], 0x80000000 → slot 10 + 4
        _f.Entries(_l1)[10] = 0;
        Assert.False(WritablePageTables.TryEmulate(_f.V, cr2 + 0x2c, 6)); // no P in the error code: not ptwr
        Assert.True(WritablePageTables.TryEmulate(_f.V, cr2 + 0x2c, WriteFault));
        Assert.Equal(PageTableFlags.NoExecute, _f.Entries(_l1)[10]);

        // Misaligned, or without the assist: not emulated.
        PrepareWrite([0x48, 0x89, 0x47, 0x01], 5); // mov [rdi+1], rax
        Assert.False(WritablePageTables.TryEmulate(_f.V, cr2 + 1, WriteFault));
        PrepareWrite([0x48, 0x89, 0x07], 5);
        _f.D.VmAssist = 0;
        Assert.False(WritablePageTables.TryEmulate(_f.V, cr2, WriteFault));
        _f.AssertCountsConsistent();
    }

    [Fact]
    public void PtwrEmulatesCmpxchgXchgAndBitOperations()
    {
        Mfn data = _f.Free(1);
        ulong cr2 = PrepareWrite([0x48, 0x89, 0x07], 5);
        _f.V.FrameSet(StubFrame.Rax, data.Address | MmuFixture.Rw);
        Assert.True(WritablePageTables.TryEmulate(_f.V, cr2, WriteFault));
        ulong pte = _f.Entries(_l1)[5];

        // lock cmpxchg [rdi], rcx with a stale RAX: no write, RAX gets the current value, ZF clear.
        PrepareWrite([0xf0, 0x48, 0x0f, 0xb1, 0x0f], 5);
        _f.V.FrameSet(StubFrame.Rax, 123);
        _f.V.FrameSet(StubFrame.Rcx, 0);
        Assert.True(WritablePageTables.TryEmulate(_f.V, cr2, WriteFault));
        Assert.Equal(pte, _f.V.FrameGet(StubFrame.Rax));
        Assert.Equal(0UL, _f.V.FrameGet(StubFrame.Rflags) & 0x40);
        Assert.Equal(pte, _f.Entries(_l1)[5]);
        // With the right RAX it swaps (and drops the old mapping's references).
        _f.V.FrameSet(StubFrame.Rip, Code);
        Assert.True(WritablePageTables.TryEmulate(_f.V, cr2, WriteFault));
        Assert.Equal(0x40UL, _f.V.FrameGet(StubFrame.Rflags) & 0x40);
        Assert.Equal(0UL, _f.Entries(_l1)[5]);
        Assert.Equal((PageType.None, 0u), (_f.Frames[data].Type, _f.Frames[data].RefCount));

        // xchg [rdi], rax: the old PTE comes back in RAX.
        PrepareWrite([0x48, 0x87, 0x07], 5);
        _f.V.FrameSet(StubFrame.Rax, data.Address | MmuFixture.Rw);
        Assert.True(WritablePageTables.TryEmulate(_f.V, cr2, WriteFault));
        Assert.Equal(0UL, _f.V.FrameGet(StubFrame.Rax));
        Assert.Equal(1u, _f.Frames[data].TypeCount);

        // lock and byte [rdi], 0xfd (Linux's ptep_set_wrprotect): RW goes, and with it the Writable reference.
        PrepareWrite([0xf0, 0x80, 0x27, 0xfd], 5);
        Assert.True(WritablePageTables.TryEmulate(_f.V, cr2, WriteFault));
        Assert.Equal(0UL, _f.Entries(_l1)[5] & PageTableFlags.Writable);
        Assert.Equal((PageType.None, 0u, 1u), (_f.Frames[data].Type, _f.Frames[data].TypeCount, _f.Frames[data].RefCount));

        // lock btr qword [rdi], 5 (test_and_clear_young): CF = the old accessed bit.
        PrepareWrite([0xf0, 0x48, 0x0f, 0xba, 0x37, 0x05], 5);
        Assert.True(WritablePageTables.TryEmulate(_f.V, cr2, WriteFault));
        Assert.Equal(1UL, _f.V.FrameGet(StubFrame.Rflags) & 1);
        Assert.Equal(0UL, _f.Entries(_l1)[5] & PageTableFlags.Accessed);
        _f.AssertCountsConsistent();
    }

    [Fact]
    public void PtwrIgnoresFaultsThatAreNotOnAnL1()
    {
        // A read-only mapping of an ordinary page (not a page table): the #PF is the guest's.
        Mfn data = _f.Free(1);
        Assert.Equal(0, _f.UpdateVaMapping(MmuFixture.HookedVa(3), data.Address | MmuFixture.Ro));
        PrepareWrite([0x48, 0x89, 0x07], 0);
        _f.V.FrameSet(StubFrame.Rdi, MmuFixture.HookedVa(3));
        Assert.False(WritablePageTables.TryEmulate(_f.V, MmuFixture.HookedVa(3), WriteFault));
        // The L4 mapped read-only (an L4, not an L1): not emulated either.
        _f.V.FrameSet(StubFrame.Rdi, _f.PtBase);
        Assert.False(WritablePageTables.TryEmulate(_f.V, _f.PtBase, WriteFault));
        // Not a store instruction.
        PrepareWrite([0x48, 0x8b, 0x07], 5); // mov rax, [rdi]
        Assert.False(WritablePageTables.TryEmulate(_f.V, MmuFixture.HookedVa(0) + 40, WriteFault));
    }

    // ---- descriptor tables -----------------------------------------------------------------------------------

    private long SetGdt(uint entries, params Mfn[] frames)
    {
        var b = new byte[8 * Math.Max(frames.Length, 1)];
        for (int i = 0; i < frames.Length; i++)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(8 * i), frames[i].Value);
        }

        _f.Put(MmuFixture.Aux, b);
        return _f.Call(HypercallNumber.SetGdt, MmuFixture.Aux, entries);
    }

    private void PutDescriptor(Mfn frame, int index, ulong d) =>
        BinaryPrimitives.WriteUInt64LittleEndian(_f.Pool.Frame(frame)[(index * 8)..], d);

    private ulong Descriptor(Mfn frame, int index) => BinaryPrimitives.ReadUInt64LittleEndian(_f.Pool.Frame(frame)[(index * 8)..]);

    [Fact]
    public void SetGdtValidatesTypesAndMapsTheFrames()
    {
        Mfn gdt = _f.Free(10);
        PutDescriptor(gdt, 1, 0x00af9a000000ffff); // 64-bit code, DPL 0
        PutDescriptor(gdt, 2, 0x00cff3000000ffff); // data, DPL 3
        Assert.Equal(0, SetGdt(3, gdt));
        Assert.Equal((PageType.SegmentDescriptors, 1u, 1u), (_f.Frames[gdt].Type, _f.Frames[gdt].TypeCount, _f.Frames[gdt].RefCount));
        Assert.Equal(3UL, (Descriptor(gdt, 1) >> 45) & 3); // DPL forced to 3
        Assert.Equal(gdt.Address, _f.D.StubPages.GdtPageMapping(0, 0));
        Assert.Equal(_f.Hv.Shared.ZeroFrame.Address, _f.D.StubPages.GdtPageMapping(0, 1));

        // A GDT page can't be mapped writable, nor written through mmu_update; update_descriptor checks each write.
        Assert.Equal(-XenErrno.EBUSY, _f.UpdateVaMapping(MmuFixture.HookedVa(2), gdt.Address | MmuFixture.Rw));
        Assert.Equal(-XenErrno.EINVAL, _f.MmuUpdate((gdt.Address + 8, 0)));
        Assert.Equal(0, _f.Call(HypercallNumber.UpdateDescriptor, gdt.Address + 24, 0x00cf92000000ffff));
        Assert.Equal(0x00cff2000000ffffUL, Descriptor(gdt, 3));
        Assert.Equal(-XenErrno.EINVAL, _f.Call(HypercallNumber.UpdateDescriptor, gdt.Address + 28, 0));
        Assert.Equal(-XenErrno.EINVAL, _f.Call(HypercallNumber.UpdateDescriptor, gdt.Address + 32, 0x0000890000000067)); // a TSS
        Assert.Equal(-XenErrno.EINVAL, _f.Call(HypercallNumber.UpdateDescriptor, 8, 0));                      // Xen's frame
        Assert.Equal(0, _f.Call(HypercallNumber.UpdateDescriptor, _f.Free(11).Address, 0x00cff3000000ffff)); // an ordinary page
        Assert.Equal(PageType.None, _f.Frames[_f.Free(11)].Type);

        // Refused replacements leave the current GDT in place.
        Assert.Equal(-XenErrno.EINVAL, SetGdt(1, _f.D.P2m[0x150]));        // mapped writable
        Mfn tss = _f.Free(12);
        PutDescriptor(tss, 4, 0x0000890000000067);
        Assert.Equal(-XenErrno.EINVAL, SetGdt(512, tss));                   // a system descriptor
        Assert.Equal(PageType.None, _f.Frames[tss].Type);
        Assert.Equal(-XenErrno.EINVAL, SetGdt(7169, gdt));
        Assert.Equal(gdt.Address, _f.D.StubPages.GdtPageMapping(0, 0));

        // Call gates: to FLAT_KERNEL_CS accepted (stored with DPL 0, the DPL kept in the selector's RPL); to Xen's CS refused.
        Mfn gates = _f.Free(13);
        PutDescriptor(gates, 2, 0x0000ec00e0331000); // DPL 3 call gate → e033:1000
        Assert.Equal(0, SetGdt(4, gates));
        Assert.Equal(0x00008c00e0331000UL, Descriptor(gates, 2));
        Assert.Equal((PageType.None, 0u), (_f.Frames[gdt].Type, _f.Frames[gdt].RefCount)); // the old GDT's references dropped
        PutDescriptor(_f.Free(14), 2, 0x0000ec00e0081000);
        Assert.Equal(-XenErrno.EINVAL, SetGdt(4, _f.Free(14)));

        Assert.Equal(0, SetGdt(0));
        Assert.Equal(_f.Hv.Shared.ZeroFrame.Address, _f.D.StubPages.GdtPageMapping(0, 0));
        Assert.Equal((PageType.None, 0u), (_f.Frames[gates].Type, _f.Frames[gates].RefCount));
        Assert.Equal(-XenErrno.EFAULT, _f.Call(HypercallNumber.SetGdt, 0x0000700000000000, 1));
        _f.AssertCountsConsistent();
    }

    // ---- multicall --------------------------------------------------------------------------------------------

    [Fact]
    public void MulticallRunsEntriesInOrderAndRefusesNesting()
    {
        Mfn data = _f.Free(1);
        var list = new byte[4 * 64];
        void Entry(int i, ulong op, params ulong[] args)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(list.AsSpan(i * 64), op);
            BinaryPrimitives.WriteUInt64LittleEndian(list.AsSpan((i * 64) + 8), 0xdead);
            for (int a = 0; a < args.Length; a++)
            {
                BinaryPrimitives.WriteUInt64LittleEndian(list.AsSpan((i * 64) + 16 + (8 * a)), args[a]);
            }
        }

        Entry(0, HypercallNumber.UpdateVaMapping, MmuFixture.HookedVa(4), data.Address | MmuFixture.Rw, 0);
        Entry(1, HypercallNumber.Multicall, MmuFixture.Aux, 1);
        Entry(2, HypercallNumber.UpdateVaMapping, MmuFixture.HookedVa(5), _f.InitialL1.Address | MmuFixture.Rw, 0);
        Entry(3, HypercallNumber.XenVersion, 0);
        _f.Put(MmuFixture.Aux, list);
        Assert.Equal(0, _f.Call(HypercallNumber.Multicall, MmuFixture.Aux, 4));
        long Result(int i) => BinaryPrimitives.ReadInt64LittleEndian(_f.Get(MmuFixture.Aux + ((ulong)i * 64) + 8, 8));
        Assert.Equal(0, Result(0));
        Assert.Equal(-XenErrno.EINVAL, Result(1));
        Assert.Equal(-XenErrno.EBUSY, Result(2));
        Assert.Equal((4 << 16) | 17, Result(3));
        Assert.Equal(PageType.Writable, _f.Frames[data].Type);
        Assert.Equal(-XenErrno.EFAULT, _f.Call(HypercallNumber.Multicall, 0x0000700000000000, 1));
        Assert.Equal(0, _f.Call(HypercallNumber.Multicall, 0x0000700000000000, 0));
    }

    [Fact]
    public void AnIretInAMulticallEndsTheBatchWithItsResult()
    {
        // The iret context {rax, r11, rcx, flags, rip, cs, rflags, rsp, ss} on the guest stack, returning to kernel mode.
        ulong stack = MmuFixture.Aux + 0x400;
        var ctx = new byte[72];
        ulong[] fields = [0xdead, 0, 0, 0, 0x100000, 0xe030, 0x202, 0x180000, 0xe02b];
        for (int i = 0; i < fields.Length; i++)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(ctx.AsSpan(8 * i), fields[i]);
        }

        _f.Put(stack, ctx);
        _f.V.FrameSet(StubFrame.Rsp, stack);
        var list = new byte[2 * 64];
        BinaryPrimitives.WriteUInt64LittleEndian(list, HypercallNumber.Iret);
        BinaryPrimitives.WriteUInt64LittleEndian(list.AsSpan(64), HypercallNumber.XenVersion);
        BinaryPrimitives.WriteUInt64LittleEndian(list.AsSpan(72), 0x77);
        _f.Put(MmuFixture.Args, list);
        long rc = _f.Call(HypercallNumber.Multicall, MmuFixture.Args, 2);
        Assert.True(rc == 0xdead, $"{rc} {_f.D.CrashReason} {_f.Log}");
        Assert.Equal(0x100000UL, _f.V.FrameGet(StubFrame.Rip));
        Assert.Equal(0x77, BinaryPrimitives.ReadInt64LittleEndian(_f.Get(MmuFixture.Args + 72, 8))); // never ran
    }

    // ---- memory_op -----------------------------------------------------------------------------------------------

    [Fact]
    public void MemoryMapAndMachphysMfnList()
    {
        var map = new byte[16];
        BinaryPrimitives.WriteUInt32LittleEndian(map, 8);
        BinaryPrimitives.WriteUInt64LittleEndian(map.AsSpan(8), MmuFixture.Aux);
        _f.Put(MmuFixture.Args, map);
        Assert.Equal(0, MemoryReservationOps.Handle(_f.V, (ulong)Abi.MemoryOp.MemoryMap, MmuFixture.Args));
        Assert.Equal(1u, BinaryPrimitives.ReadUInt32LittleEndian(_f.Get(MmuFixture.Args, 4)));
        byte[] e = _f.Get(MmuFixture.Aux, 20);
        Assert.Equal((0UL, 16UL << 20, 1u), (BinaryPrimitives.ReadUInt64LittleEndian(e), BinaryPrimitives.ReadUInt64LittleEndian(e.AsSpan(8)), BinaryPrimitives.ReadUInt32LittleEndian(e.AsSpan(16))));

        var x = new byte[24];
        BinaryPrimitives.WriteUInt32LittleEndian(x, 100);
        BinaryPrimitives.WriteUInt64LittleEndian(x.AsSpan(8), MmuFixture.Aux);
        _f.Put(MmuFixture.Args, x);
        Assert.Equal(0, MemoryReservationOps.Handle(_f.V, (ulong)Abi.MemoryOp.MachphysMfnList, MmuFixture.Args));
        uint n = BinaryPrimitives.ReadUInt32LittleEndian(_f.Get(MmuFixture.Args + 16, 4));
        Assert.Equal((uint)_f.Pool.M2pLargePages, n);
        Assert.Equal(_f.Pool.M2p.First.Value, BinaryPrimitives.ReadUInt64LittleEndian(_f.Get(MmuFixture.Aux, 8)));
        Assert.Equal(-XenErrno.ENOSYS, MemoryReservationOps.Handle(_f.V, (ulong)MemoryReservationOps.Exchange, MmuFixture.Args));
    }

    [Fact]
    public void BalloonGivesFramesBackAndTakesThemAgain()
    {
        ulong pages = _f.D.Mmu.CurrentPages;
        Mfn a = _f.Free(1), b = _f.Free(2);
        _f.Pool.Frame(a).Fill(0x77);
        Assert.Equal(1, _f.Reservation(Abi.MemoryOp.DecreaseReservation, a.Value));
        Assert.Equal(1, _f.Reservation(Abi.MemoryOp.DecreaseReservation, b.Value));
        Assert.Equal(pages - 2, _f.D.Mmu.CurrentPages);
        Assert.Equal(MachinePool.InvalidM2pEntry, _f.Pool.GetM2p(a));
        Assert.Equal(FrameOwner.Xen, _f.Frames[a].Owner);
        Assert.Equal(0, _f.Reservation(Abi.MemoryOp.DecreaseReservation, a.Value)); // already given back

        // increase_reservation hands a frame back with no M2P entry; the guest sets it with MMU_MACHPHYS_UPDATE.
        Assert.Equal(1, _f.Reservation(Abi.MemoryOp.IncreaseReservation, 0));
        Mfn got = new(_f.ReservationResult);
        Assert.True(got == a || got == b);
        Assert.Equal(_f.D.Id, _f.Frames[got].Owner);
        Assert.Equal(MachinePool.InvalidM2pEntry, _f.Pool.GetM2p(got));
        Assert.Equal(0, _f.Pool.Frame(got)[0]); // zeroed
        Assert.Equal(0, _f.MmuUpdate((got.Address | MmuAbi.MmuMachphysUpdate, 0x999)));

        // populate_physmap takes the pfn and sets the M2P; past the reservation nothing more is given.
        Assert.Equal(1, _f.Reservation(Abi.MemoryOp.PopulatePhysmap, 3000));
        Mfn got2 = new(_f.ReservationResult);
        Assert.Equal(3000UL, _f.Pool.GetM2p(got2));
        Assert.Equal(got2, _f.D.P2m[3000]);
        Assert.Equal(0, _f.Reservation(Abi.MemoryOp.PopulatePhysmap, 3001));
        Assert.Equal(0, _f.Reservation(Abi.MemoryOp.PopulatePhysmap, 3001, order: 10));
        Assert.Equal(pages, _f.D.Mmu.CurrentPages);
        _f.AssertCountsConsistent();
    }

    [Fact]
    public void AMemoryMaximumBelowTheBuildStopsIncreaseReservation()
    {
        Mfn a = _f.Free(1);
        Mfn b = _f.Free(2);
        Assert.Equal(1, _f.Reservation(Abi.MemoryOp.DecreaseReservation, a.Value));
        Assert.Equal(1, _f.Reservation(Abi.MemoryOp.DecreaseReservation, b.Value));
        ulong held = _f.D.Mmu.CurrentPages;
        Assert.True(_f.D.SetMaxPages(held + 1)); // Domain 0's mem-max: one more page than it holds now
        _f.Put(MmuFixture.Args, [0xf0, 0x7f]);
        Assert.Equal((long)held + 1, _f.Call(HypercallNumber.MemoryOp, Abi.MemoryOp.MaximumReservation, MmuFixture.Args));
        Assert.Equal(1, _f.Reservation(Abi.MemoryOp.IncreaseReservation, 0));
        Assert.Equal(0, _f.Reservation(Abi.MemoryOp.IncreaseReservation, 0)); // at the maximum: a frame is in the reserve but not given
        Assert.Equal(held + 1, _f.D.Mmu.CurrentPages);
        Assert.True(_f.D.SetMaxPages(_f.D.NrPages));
        Assert.Equal(1, _f.Reservation(Abi.MemoryOp.IncreaseReservation, 0));
        _f.AssertCountsConsistent();
    }

    [Fact]
    public void MemoryOpRoutesReservationsAndReportsTheCurrentReservation()
    {
        Assert.Equal(1, _f.Reservation(Abi.MemoryOp.DecreaseReservation, _f.Free(1).Value));
        _f.Put(MmuFixture.Args, [0xf0, 0x7f]);
        Assert.Equal(4095, _f.Call(HypercallNumber.MemoryOp, Abi.MemoryOp.CurrentReservation, MmuFixture.Args));
        Assert.Equal(4096, _f.Call(HypercallNumber.MemoryOp, Abi.MemoryOp.MaximumReservation, MmuFixture.Args));
        var r = new byte[32];
        BinaryPrimitives.WriteUInt64LittleEndian(r, MmuFixture.Aux);
        BinaryPrimitives.WriteUInt64LittleEndian(r.AsSpan(8), 1);
        BinaryPrimitives.WriteUInt16LittleEndian(r.AsSpan(24), MmuAbi.DomidSelf);
        _f.Put(MmuFixture.Args, r);
        _f.Put(MmuFixture.Aux, BitConverter.GetBytes(MmuFixture.FreePfnOf(1)));
        Assert.Equal(1, _f.Call(HypercallNumber.MemoryOp, Abi.MemoryOp.PopulatePhysmap, MmuFixture.Args));
        Assert.Equal(4096UL, _f.D.Mmu.CurrentPages);
    }
}
