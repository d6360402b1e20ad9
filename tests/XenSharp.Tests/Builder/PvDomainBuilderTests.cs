using System.Buffers.Binary;
using System.Text;
using XenSharp.Abi;
using XenSharp.Hypervisor;
using XenSharp.Hypervisor.Domains;
using XenSharp.Hypervisor.Memory;
using XenSharp.Hypervisor.Pv;
using XenSharp.Hypervisor.Stub;
using XenSharp.Tests.Image;
using XenSharp.Toolstack.Builder;
using Xunit;

namespace XenSharp.Tests.Builder;

public class PvDomainBuilderTests
{
    [Fact]
    public void KernelIsMappedAtItsVirtualAddressThroughTheGuestsOwnTables()
    {
        using XenHypervisor hv = TestDomains.Hypervisor();
        Domain d = TestDomains.Build(hv);
        Vcpu v = d.Vcpus[0];
        var code = new byte[16];
        Assert.True(v.CopyFromGuest(TestKernels.GenericStart, code));
        Assert.Equal(TestKernels.Pattern(16, 0), code);
        Assert.True(GuestPageWalker.TryTranslate(hv.Pool, d.Id, v.KernelL4, TestKernels.GenericStart, write: true, out ulong ma));
        Assert.Equal(d.P2m[0x100].Address, ma);
    }

    [Fact]
    public void StartInfoDescribesTheDomain()
    {
        using XenHypervisor hv = TestDomains.Hypervisor();
        Domain d = TestDomains.Build(hv, 16, "console=hvc0 x=1");
        Vcpu v = d.Vcpus[0];
        ulong siVa = v.FrameGet(StubFrame.Rsi);
        var si = new byte[StartInfoLayout.Size];
        Assert.True(v.CopyFromGuest(siVa, si));
        Assert.StartsWith(StartInfoLayout.Magic64 + "\0", Encoding.ASCII.GetString(si, 0, 15));
        Assert.Equal(4096UL, BinaryPrimitives.ReadUInt64LittleEndian(si.AsSpan(StartInfoLayout.NrPages)));
        Assert.Equal(d.SharedInfo.Address, BinaryPrimitives.ReadUInt64LittleEndian(si.AsSpan(StartInfoLayout.SharedInfo)));
        Assert.Equal("console=hvc0 x=1", Encoding.ASCII.GetString(si, StartInfoLayout.CmdLine, 16));
        Assert.Equal(0, si[StartInfoLayout.CmdLine + 16]);

        // The P2M list the guest reads agrees with the domain's and with the M2P.
        ulong mfnList = BinaryPrimitives.ReadUInt64LittleEndian(si.AsSpan(StartInfoLayout.MfnList));
        var p2m = new byte[8 * 4096];
        Assert.True(v.CopyFromGuest(mfnList, p2m));
        for (int pfn = 0; pfn < 4096; pfn++)
        {
            ulong mfn = BinaryPrimitives.ReadUInt64LittleEndian(p2m.AsSpan(pfn * 8));
            Assert.Equal(d.P2m[pfn].Value, mfn);
            Assert.Equal((ulong)pfn, hv.Pool.GetM2p(new Mfn(mfn)));
        }
    }

    [Fact]
    public void PageTablesAreMappedReadOnlyTypedAndTheL4Pinned()
    {
        using XenHypervisor hv = TestDomains.Hypervisor();
        Domain d = TestDomains.Build(hv);
        Vcpu v = d.Vcpus[0];
        ulong siVa = v.FrameGet(StubFrame.Rsi);
        var si = new byte[StartInfoLayout.Size];
        Assert.True(v.CopyFromGuest(siVa, si));
        ulong ptBase = BinaryPrimitives.ReadUInt64LittleEndian(si.AsSpan(StartInfoLayout.PtBase));
        ulong nrPt = BinaryPrimitives.ReadUInt64LittleEndian(si.AsSpan(StartInfoLayout.NrPtFrames));
        Assert.Equal(5UL, nrPt); // L4, L3, L2 and two L1s for the 4 MiB initial mapping
        for (ulong i = 0; i < nrPt; i++)
        {
            Assert.True(GuestPageWalker.TryTranslate(hv.Pool, d.Id, v.KernelL4, ptBase + (i * 4096), write: false, out _));
            Assert.False(GuestPageWalker.TryTranslate(hv.Pool, d.Id, v.KernelL4, ptBase + (i * 4096), write: true, out _));
        }

        FrameInfo l4 = hv.Pool.Frames[v.KernelL4];
        Assert.Equal(PageType.L4, l4.Type);
        Assert.True(l4.Pinned);
        Assert.Equal(2u, l4.TypeCount); // the pin and CR3
        Mfn l1 = d.P2m[(ptBase / 4096) + 3];
        Assert.Equal(PageType.L1, hv.Pool.Frames[l1].Type);
        Assert.Equal(PageType.Writable, hv.Pool.Frames[d.P2m[0x100]].Type);
    }

    [Fact]
    public void HypervisorSlotsArePresentButOnlyTheM2pIsGuestReadable()
    {
        using XenHypervisor hv = TestDomains.Hypervisor();
        Domain d = TestDomains.Build(hv);
        Vcpu v = d.Vcpus[0];
        Span<ulong> l4 = hv.Pool.FrameAsEntries(v.KernelL4);
        Assert.NotEqual(0UL, l4[256] & PageTableFlags.Present);
        Assert.NotEqual(0UL, l4[StubLayout.L4Slot] & PageTableFlags.Present);
        var m2p = new byte[8];
        Assert.True(v.CopyFromGuest(XenVirtualLayout.MachToPhysStart + (d.P2m[5].Value * 8), m2p));
        Assert.Equal(5UL, BinaryPrimitives.ReadUInt64LittleEndian(m2p));
        Assert.False(v.CopyToGuest(XenVirtualLayout.MachToPhysStart, m2p));
        Assert.False(v.CopyFromGuest(StubLayout.Base, m2p));
    }

    [Fact]
    public void HypercallPageAndSharedInfoAreWritten()
    {
        using XenHypervisor hv = TestDomains.Hypervisor();
        Domain d = TestDomains.Build(hv);
        var stub = new byte[8];
        Assert.True(d.Vcpus[0].CopyFromGuest(TestDomains.HypercallPageVa + (17 * 32), stub));
        Assert.Equal(new byte[] { 0x51, 0x41, 0x53, 0xb8, 17, 0, 0, 0 }, stub);
        for (int i = 0; i < SharedInfoLayout.LegacyMaxVcpus; i++)
        {
            Assert.Equal(1, d.SharedInfoPage[(i * 64) + SharedInfoLayout.UpcallMask]);
        }
    }

    [Fact]
    public void InitialContextEntersTheGuestKernelInRing3()
    {
        using XenHypervisor hv = TestDomains.Hypervisor();
        Domain d = TestDomains.Build(hv);
        Vcpu v = d.Vcpus[0];
        Assert.Equal(TestKernels.GenericStart, v.FrameGet(StubFrame.Rip));
        Assert.Equal((ulong)XenSelectors.FlatKernelCs, v.FrameGet(StubFrame.Cs));
        Assert.Equal((ulong)XenSelectors.FlatKernelSs, v.FrameGet(StubFrame.Ss));
        Assert.Equal(0x202UL, v.FrameGet(StubFrame.Rflags));
        Assert.Equal(0UL, v.FrameGet(StubFrame.Rsp) % 4096);
        Assert.True(v.InKernelMode);
    }

    [Fact]
    public void DestroyReturnsEveryFrame()
    {
        using XenHypervisor hv = TestDomains.Hypervisor();
        ulong free = hv.Pool.FreeFrames;
        for (int i = 0; i < 5; i++)
        {
            Domain d = TestDomains.Build(hv);
            Assert.True(hv.Pool.FreeFrames < free);
            hv.Destroy(d);
            Assert.Equal(0UL, hv.Pool.Frames.CountOwnedBy(d.Id));
        }

        Assert.Equal(free, hv.Pool.FreeFrames);
    }

    [Fact]
    public void MemoryLargerThanThePoolIsAClearError()
    {
        using XenHypervisor hv = TestDomains.Hypervisor();
        ulong free = hv.Pool.FreeFrames;
        var e = Assert.Throws<DomainBuildException>(() => TestDomains.Build(hv, memoryMiB: 4096));
        Assert.Contains("does not fit", e.Message);
        Assert.Equal(free, hv.Pool.FreeFrames);
    }
}
