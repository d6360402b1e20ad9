using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using XenSharp.Kvm;
using XenSharp.Kvm.Native;
using Xunit;

namespace XenSharp.Tests.Kvm;

/// <summary>Sizes and offsets printed by gcc (sizeof/offsetof on linux/kvm.h, x86-64).</summary>
public class NativeLayoutTests
{
    [Fact]
    public void Sizes_match_the_kernel_structs()
    {
        Assert.Equal(144, Unsafe.SizeOf<Registers>());
        Assert.Equal(312, Unsafe.SizeOf<KvmSregs>());
        Assert.Equal(280, Unsafe.SizeOf<SpecialRegisters>());
        Assert.Equal(24, Unsafe.SizeOf<Segment>());
        Assert.Equal(16, Unsafe.SizeOf<DescriptorTable>());
        Assert.Equal(40, Unsafe.SizeOf<KvmCpuidEntry2>());
        Assert.Equal(16, Unsafe.SizeOf<KvmMsrEntry>());
        Assert.Equal(32, Unsafe.SizeOf<KvmUserspaceMemoryRegion>());
        Assert.Equal(32, Unsafe.SizeOf<KvmMsi>());
    }

    [Fact]
    public void Ioctl_argument_sizes_are_the_struct_sizes()
    {
        Assert.Equal(KvmIoctls.SizeofKvmRegs, (uint)Unsafe.SizeOf<Registers>());
        Assert.Equal(KvmIoctls.SizeofKvmSregs, (uint)Unsafe.SizeOf<KvmSregs>());
        Assert.Equal(KvmIoctls.SizeofKvmUserspaceMemoryRegion, (uint)Unsafe.SizeOf<KvmUserspaceMemoryRegion>());
        Assert.Equal(KvmIoctls.SizeofKvmMsi, (uint)Unsafe.SizeOf<KvmMsi>());
        Assert.Equal(8u, KvmIoctls.SizeofKvmCpuid2);
        Assert.Equal(8u, KvmIoctls.SizeofKvmMsrs);
    }

    [Theory]
    [InlineData(nameof(Registers.Rax), 0)]
    [InlineData(nameof(Registers.Rsp), 48)]
    [InlineData(nameof(Registers.R8), 64)]
    [InlineData(nameof(Registers.R15), 120)]
    [InlineData(nameof(Registers.Rip), 128)]
    [InlineData(nameof(Registers.Rflags), 136)]
    public void Registers_offsets(string field, int offset) => Assert.Equal(offset, (int)Marshal.OffsetOf<Registers>(field));

    [Theory]
    [InlineData(nameof(Segment.Base), 0)]
    [InlineData(nameof(Segment.Limit), 8)]
    [InlineData(nameof(Segment.Selector), 12)]
    [InlineData(nameof(Segment.Type), 14)]
    [InlineData(nameof(Segment.Present), 15)]
    [InlineData(nameof(Segment.Dpl), 16)]
    [InlineData(nameof(Segment.Db), 17)]
    [InlineData(nameof(Segment.S), 18)]
    [InlineData(nameof(Segment.L), 19)]
    [InlineData(nameof(Segment.G), 20)]
    [InlineData(nameof(Segment.Avl), 21)]
    [InlineData(nameof(Segment.Unusable), 22)]
    public void Segment_offsets(string field, int offset) => Assert.Equal(offset, (int)Marshal.OffsetOf<Segment>(field));

    [Fact]
    public void DescriptorTable_offsets() => Assert.Equal(8, (int)Marshal.OffsetOf<DescriptorTable>(nameof(DescriptorTable.Limit)));

    [Theory]
    [InlineData(nameof(SpecialRegisters.Cs), 0)]
    [InlineData(nameof(SpecialRegisters.Ds), 24)]
    [InlineData(nameof(SpecialRegisters.Es), 48)]
    [InlineData(nameof(SpecialRegisters.Fs), 72)]
    [InlineData(nameof(SpecialRegisters.Gs), 96)]
    [InlineData(nameof(SpecialRegisters.Ss), 120)]
    [InlineData(nameof(SpecialRegisters.Tr), 144)]
    [InlineData(nameof(SpecialRegisters.Ldt), 168)]
    [InlineData(nameof(SpecialRegisters.Gdt), 192)]
    [InlineData(nameof(SpecialRegisters.Idt), 208)]
    [InlineData(nameof(SpecialRegisters.Cr0), 224)]
    [InlineData(nameof(SpecialRegisters.Cr2), 232)]
    [InlineData(nameof(SpecialRegisters.Cr3), 240)]
    [InlineData(nameof(SpecialRegisters.Cr4), 248)]
    [InlineData(nameof(SpecialRegisters.Cr8), 256)]
    [InlineData(nameof(SpecialRegisters.Efer), 264)]
    [InlineData(nameof(SpecialRegisters.ApicBase), 272)]
    public void SpecialRegisters_offsets(string field, int offset) =>
        Assert.Equal(offset, (int)Marshal.OffsetOf<SpecialRegisters>(field));

    [Fact]
    public void Sregs_interrupt_bitmap_follows_the_registers() =>
        Assert.Equal(280, (int)Marshal.OffsetOf<KvmSregs>(nameof(KvmSregs.InterruptBitmap)));

    [Fact]
    public void Cpuid_msr_region_msi_offsets()
    {
        Assert.Equal(4, (int)Marshal.OffsetOf<KvmCpuidEntry2>(nameof(KvmCpuidEntry2.Index)));
        Assert.Equal(8, (int)Marshal.OffsetOf<KvmCpuidEntry2>(nameof(KvmCpuidEntry2.Flags)));
        Assert.Equal(12, (int)Marshal.OffsetOf<KvmCpuidEntry2>(nameof(KvmCpuidEntry2.Eax)));
        Assert.Equal(24, (int)Marshal.OffsetOf<KvmCpuidEntry2>(nameof(KvmCpuidEntry2.Edx)));
        Assert.Equal(8, (int)Marshal.OffsetOf<KvmMsrEntry>(nameof(KvmMsrEntry.Data)));
        Assert.Equal(4, (int)Marshal.OffsetOf<KvmUserspaceMemoryRegion>(nameof(KvmUserspaceMemoryRegion.Flags)));
        Assert.Equal(8, (int)Marshal.OffsetOf<KvmUserspaceMemoryRegion>(nameof(KvmUserspaceMemoryRegion.GuestPhysAddr)));
        Assert.Equal(16, (int)Marshal.OffsetOf<KvmUserspaceMemoryRegion>(nameof(KvmUserspaceMemoryRegion.MemorySize)));
        Assert.Equal(24, (int)Marshal.OffsetOf<KvmUserspaceMemoryRegion>(nameof(KvmUserspaceMemoryRegion.UserspaceAddr)));
        Assert.Equal(4, (int)Marshal.OffsetOf<KvmMsi>(nameof(KvmMsi.AddressHi)));
        Assert.Equal(8, (int)Marshal.OffsetOf<KvmMsi>(nameof(KvmMsi.Data)));
        Assert.Equal(12, (int)Marshal.OffsetOf<KvmMsi>(nameof(KvmMsi.Flags)));
        Assert.Equal(16, (int)Marshal.OffsetOf<KvmMsi>(nameof(KvmMsi.DevId)));
    }

    [Fact]
    public void Kvm_run_offsets()
    {
        Assert.Equal(1, KvmRunLayout.ImmediateExit);
        Assert.Equal(8, KvmRunLayout.ExitReason);
        Assert.Equal(32, KvmRunLayout.IoDirection);
        Assert.Equal(33, KvmRunLayout.IoSize);
        Assert.Equal(34, KvmRunLayout.IoPort);
        Assert.Equal(36, KvmRunLayout.IoCount);
        Assert.Equal(40, KvmRunLayout.IoDataOffset);
        Assert.Equal(32, KvmRunLayout.MmioPhysAddr);
        Assert.Equal(40, KvmRunLayout.MmioData);
        Assert.Equal(48, KvmRunLayout.MmioLen);
        Assert.Equal(52, KvmRunLayout.MmioIsWrite);
        Assert.Equal(32, KvmRunLayout.FailEntryHardwareReason);
        Assert.Equal(32, KvmRunLayout.InternalSuberror);
        Assert.Equal(32, KvmRunLayout.SystemEventType);
        Assert.Equal(288, KvmRunLayout.KvmValidRegs);
        Assert.Equal(296, KvmRunLayout.KvmDirtyRegs);
        Assert.Equal(304, KvmRunLayout.SyncRegs);
    }
}
