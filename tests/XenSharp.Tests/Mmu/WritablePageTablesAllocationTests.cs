using XenSharp.Abi;
using XenSharp.Hypervisor.Memory;
using XenSharp.Hypervisor.Pv.Mmu;
using XenSharp.Hypervisor.Stub;
using XenSharp.Tests.Emulation;
using Xunit;

namespace XenSharp.Tests.Mmu;

/// <summary>A guest kernel's store to its own read-only page table, emulated by the writable-page-table assist, allocates nothing.</summary>
public sealed class WritablePageTablesAllocationTests : IDisposable
{
    private const ulong Code = MmuFixture.Aux + 0x800;
    private const ulong WriteFault = 7; // P | W | U (the guest kernel runs in ring 3)

    private readonly MmuFixture _f = new();
    private readonly Mfn _l1;

    public WritablePageTablesAllocationTests() => _l1 = _f.HookFreshL1();

    public void Dispose() => _f.Dispose();

    /// <summary>Linux's set_pte (mov), xchg and cmpxchg on a live PTE, alternating between two values.</summary>
    [Theory]
    [InlineData(new byte[] { 0x48, 0x89, 0x07 })]             // mov [rdi], rax
    [InlineData(new byte[] { 0x48, 0x87, 0x07 })]             // xchg [rdi], rax
    [InlineData(new byte[] { 0xf0, 0x48, 0x0f, 0xb1, 0x0f })] // lock cmpxchg [rdi], rcx (RAX: the current PTE)
    public void AnEmulatedPageTableWriteAllocatesNothing(byte[] code)
    {
        Assert.Equal(0, _f.UpdateVaMapping(MmuFixture.HookedVa(0), _l1.Address | MmuFixture.Ro));
        _f.Put(Code, code);
        _f.D.VmAssist |= 1UL << VmAssist.TypeWritablePageTables;
        ulong target = MmuFixture.HookedVa(0) + (5 * 8);
        ulong[] ptes = [_f.Free(1).Address | MmuFixture.Rw, _f.Free(2).Address | MmuFixture.Rw];
        int n = 0;
        bool allEmulated = true;
        Action write = () =>
        {
            ulong next = ptes[n++ & 1];
            _f.V.FrameSet(StubFrame.Rip, Code);
            _f.V.FrameSet(StubFrame.Rdi, target);
            _f.V.FrameSet(StubFrame.Rax, code[0] == 0xf0 ? _f.Entries(_l1)[5] : next);
            _f.V.FrameSet(StubFrame.Rcx, next);
            allEmulated &= WritablePageTables.TryEmulate(_f.V, target, WriteFault);
        };

        Assert.Equal(0, Allocations.LeastPer1000(write));
        Assert.True(allEmulated);
        Assert.Equal(Code + (ulong)code.Length, _f.V.FrameGet(StubFrame.Rip));
        Assert.Equal(PageTableValidator.EntryMfn(ptes[(n - 1) & 1]), PageTableValidator.EntryMfn(_f.Entries(_l1)[5]));
        _f.AssertCountsConsistent();
    }
}
