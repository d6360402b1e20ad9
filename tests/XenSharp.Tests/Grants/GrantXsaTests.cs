using XenSharp.Abi;
using XenSharp.Hypervisor.Memory;
using XenSharp.Tests.Mmu;
using Xunit;
using static XenSharp.Hypervisor.Grants.GrantTableAbi;

namespace XenSharp.Tests.Grants;

/// <summary>The XTF proofs of concept for the grant-mapping advisories, replayed on a heap-memory domain.</summary>
public sealed class GrantXsaTests : IDisposable
{
    private readonly GrantFixture _f = new();
    private readonly Mfn _l1;

    public GrantXsaTests()
    {
        _l1 = _f.M.HookFreshL1();
    }

    public void Dispose() => _f.Dispose();

    private static ulong Va(int slot) => MmuFixture.HookedVa(slot);

    [Fact]
    public void Xsa234_UnmapAndReplaceCannotShuffleAWritableMappingOutOfTheCounts()
    {
        Mfn frame1 = _f.M.Free(3), frame2 = _f.M.Free(4);
        Assert.Equal(0, _f.M.UpdateVaMapping(Va(10), frame1.Address | MmuFixture.Ro));
        _f.WriteV1(8, GtfPermitAccess, _f.Id, (uint)frame1.Value);
        _f.WriteV1(9, GtfPermitAccess, _f.Id, (uint)frame2.Value);

        uint f1 = _f.MapOk(Va(1), GntmapHostMap, 8, _f.Id);
        uint f2 = _f.MapOk(Va(2), GntmapHostMap | GntmapReadonly, 9, _f.Id);
        Assert.Equal((0L, Okay), _f.UnmapAndReplace(Va(2), Va(1), f2));
        Assert.Equal(0UL, _f.M.Entries(_l1)[1]);
        Assert.Equal(frame1, Hypervisor.Pv.Mmu.PageTableValidator.EntryMfn(_f.M.Entries(_l1)[2]));

        Assert.Equal(0, _f.M.UpdateVaMapping(Va(1), frame1.Address | MmuFixture.Ro));
        Assert.Equal((0L, GeneralError), _f.Unmap(Va(1), 0, f1)); // read-only now: not the grant's PTE
        Assert.Equal(-XenErrno.EINVAL, _f.M.Pin(frame1, 1));
        _f.M.AssertCountsConsistent();
    }
}
