using System.Buffers.Binary;
using XenSharp.Kvm;

namespace XenSharp.Tests.Kvm;

/// <summary>A one-vCPU VM in 64-bit ring 0, as the C probes in kvm-probes/ build it: 2 MiB of guest memory taken from
/// the middle of a MachineMemory (so slot host addresses are offsets, not the pool's start), identity-mapped with one
/// 2 MiB page (and the next 2 MiB, which no slot backs, for MMIO); GDT with a 64-bit code and a data segment; TSS; IDT with every vector sent to <see cref="StrayVectorAddress"/>.</summary>
internal sealed class TinyGuest : IDisposable
{
    public const ulong GuestSize = 0x200000;
    public const ulong PoolOffset = 0x200000;
    public const ulong CodeAddress = 0x10000;
    public const ulong StrayVectorAddress = 0x12000; // out 0x11; hlt
    public const ushort StrayVectorPort = 0x11;
    public const ulong StackTop = 0x80000;
    public const ulong UnbackedAddress = 0x200000;

    private const ulong Pml4 = 0x1000, Pdpt = 0x2000, Pd = 0x3000, Gdt = 0x6000, Tss = 0x8000, Idt = 0x9000;

    private TinyGuest(KvmSystem system, MachineMemory memory, KvmVm vm, KvmVcpu vcpu)
    {
        System = system;
        Memory = memory;
        Vm = vm;
        Vcpu = vcpu;
    }

    public KvmSystem System { get; }

    public MachineMemory Memory { get; }

    public KvmVm Vm { get; }

    public KvmVcpu Vcpu { get; }

    public static TinyGuest Create(byte[] code, bool irqchip = false, bool? syncRegisters = null)
    {
        var system = KvmSystem.Open();
        var memory = MachineMemory.Create(PoolOffset + GuestSize + 0x200000);
        KvmVm vm = system.CreateVm();
        if (irqchip)
        {
            vm.CreateIrqchip();
        }

        vm.SetMemorySlot(0, 0, GuestSize, memory.HostAddress(PoolOffset, GuestSize));
        KvmVcpu vcpu = syncRegisters is { } sync ? vm.CreateVcpu(0, sync) : vm.CreateVcpu(0);
        var guest = new TinyGuest(system, memory, vm, vcpu);
        guest.Build(code);
        return guest;
    }

    public Span<byte> GuestBytes(ulong guestPhysical, int length) => Memory.GetSpan(PoolOffset + guestPhysical, length);

    public void Write64(ulong guestPhysical, ulong value) => BinaryPrimitives.WriteUInt64LittleEndian(GuestBytes(guestPhysical, 8), value);

    /// <summary>Interrupt gate, DPL 0, selector 8, to <paramref name="handler"/>.</summary>
    public void SetGate(int vector, ulong handler)
    {
        ulong entry = (handler & 0xffff) | (0x08UL << 16) | (0x8e00UL << 32) | (((handler >> 16) & 0xffff) << 48);
        Write64(Idt + (ulong)(16 * vector), entry);
        Write64(Idt + (ulong)(16 * vector) + 8, handler >> 32);
    }

    public void Dispose()
    {
        Vm.Dispose();
        Memory.Dispose();
        System.Dispose();
    }

    private void Build(byte[] code)
    {
        Write64(Pml4, Pdpt | 3);
        Write64(Pdpt, Pd | 3);
        Write64(Pd, 0x83); // 2 MiB page at 0: present, writable, PS
        Write64(Pd + 8, UnbackedAddress | 0x83); // mapped, but no memory slot behind it: MMIO
        Write64(Gdt + 8, 0x00209a0000000000UL);  // 0x08: 64-bit code, DPL 0
        Write64(Gdt + 16, 0x0000920000000000UL); // 0x10: data
        Write64(Tss + 4, StackTop);              // RSP0
        code.CopyTo(GuestBytes(CodeAddress, code.Length));
        byte[] stray = [0xe6, (byte)StrayVectorPort, 0xf4];
        stray.CopyTo(GuestBytes(StrayVectorAddress, stray.Length));
        for (int v = 0; v < 256; v++)
        {
            SetGate(v, StrayVectorAddress);
        }

        Vcpu.SetCpuid(System.GetSupportedCpuid().ToArray());

        SpecialRegisters s = Vcpu.GetSpecialRegisters();
        s.Cr3 = Pml4;
        s.Cr4 = 0x20;          // PAE
        s.Cr0 = 0x80050033;    // PG AM WP NE ET MP PE
        s.Efer = 0x500;        // LME LMA
        s.Cs = new Segment { Limit = 0xffffffff, Selector = 0x08, Type = 11, Present = 1, S = 1, L = 1, G = 1 };
        var data = new Segment { Limit = 0xffffffff, Selector = 0x10, Type = 3, Present = 1, Db = 1, S = 1, G = 1 };
        s.Ds = s.Es = s.Fs = s.Gs = s.Ss = data;
        s.Gdt = new DescriptorTable { Base = Gdt, Limit = 0x17 };
        s.Idt = new DescriptorTable { Base = Idt, Limit = 0xfff };
        s.Tr = new Segment { Base = Tss, Limit = 0x67, Type = 11, Present = 1 };
        Vcpu.SetSpecialRegisters(s);

        Vcpu.SetRegisters(new Registers { Rip = CodeAddress, Rflags = 2, Rsp = StackTop });
    }
}
