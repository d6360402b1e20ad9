using System.Buffers.Binary;
using XenSharp.Kvm;

namespace XenSharp.Bench;

/// <summary>
/// The machine's cost of one in-VM exception round trip (../shared/reference/kvm-probes/h.c test 8, beside the repository), built with
/// XenSharp.Kvm: ring-3 code runs <c>ud2</c> in a loop; the ring-0 #UD handler does <c>add qword [rsp], 2; iretq</c>.
/// After r14 round trips the ring-3 loop does <c>out 0x14, al</c>, which raises #GP; the ring-0 #GP handler does the
/// <c>out</c> (exit) and returns past it, so one KVM_RUN is r14 + 1 exception round trips plus one exit. No exit per exception: this is what KVM charges for delivering a ring-3 exception into
/// ring 0 and returning with iretq, the two steps a PV guest's trap bounce needs at least.
/// </summary>
public sealed class BareTrapVm : IDisposable
{
    private const ulong MemoryBytes = 0x400000;
    private const ulong Kernel = 0x10000, User = 0x20000, Tss = 0x8000, Idt = 0x9000, Gdt = 0x6000;
    private const ushort Port = 0x14;

    private readonly MachineMemory _memory;
    private readonly KvmVm _vm;
    private readonly KvmVcpu _vcpu;

    public BareTrapVm(KvmSystem kvm)
    {
        _memory = MachineMemory.Create(MemoryBytes, "xensharp-bench-trap");
        void Put(ulong address, ulong value) => BinaryPrimitives.WriteUInt64LittleEndian(_memory.GetSpan(address, 8), value);
        void Code(ulong address, ReadOnlySpan<byte> code) => code.CopyTo(_memory.GetSpan(address, code.Length));
        Put(0x1000, 0x2000 | 7);
        Put(0x2000, 0x3000 | 7);
        Put(0x3000, 0x4000 | 7);
        Put(0x3008, 0x5000 | 7);
        for (ulong i = 0; i < 1024; i++)
        {
            ulong a = i << 12;
            bool user = a == User || a >= 0x200000;   // ring-3 code page, and the ring-3 stack below 0x3ff000
            Put(0x4000 + (i * 8), a | 3 | (user ? 4UL : 0));
        }

        Put(Gdt + 0x08, 0x00209a0000000000UL);  // ring-0 code
        Put(Gdt + 0x10, 0x0000920000000000UL);  // ring-0 data
        Put(Gdt + 0x18, 0x00cffa000000ffffUL);  // (32-bit user code, for sysret layouts)
        Put(Gdt + 0x20, 0x0000f20000000000UL);  // user data, selector 0x23
        Put(Gdt + 0x28, 0x0020fa0000000000UL);  // 64-bit user code, selector 0x2b
        BinaryPrimitives.WriteUInt64LittleEndian(_memory.GetSpan(Tss + 4, 8), 0x300000);   // RSP0
        BinaryPrimitives.WriteUInt16LittleEndian(_memory.GetSpan(Tss + 0x66, 2), 0x68);   // no I/O bitmap

        // ring 0: iretq to ring 3 at User; #UD handler; any other vector: out 0x15 and hlt.
        Code(Kernel, [0x6a, 0x23, 0x68, 0x00, 0xf0, 0x3f, 0x00, 0x68, 0x02, 0x00, 0x00, 0x00, 0x6a, 0x2b, 0x68, 0x00, 0x00, 0x02, 0x00, 0x48, 0xcf]);
        Code(Kernel + 0x100, [0x48, 0x83, 0x04, 0x24, 0x02, 0x48, 0xcf]);   // add qword [rsp], 2; iretq
        // #GP from the ring-3 `out` (this KVM ignores IOPL for it, as h.c test 8 shows): do the out here, skip it, iretq.
        Code(Kernel + 0x180, [0xe6, (byte)Port, 0x48, 0x83, 0x44, 0x24, 0x08, 0x02, 0x48, 0x83, 0xc4, 0x08, 0x48, 0xcf]);
        // ring 3: mov rbx, r14; 1: ud2; dec rbx; jnz 1b; out 0x14, al; jmp start
        Code(User, [0x4c, 0x89, 0xf3, 0x0f, 0x0b, 0x48, 0xff, 0xcb, 0x75, 0xf9, 0xe6, (byte)Port, 0xeb, 0xf2]);
        for (int v = 0; v < 32; v++)
        {
            ulong a = v == 6 ? Kernel + 0x100 : v == 13 ? Kernel + 0x180 : Kernel + 0x200 + (ulong)(16 * v);
            Code(Kernel + 0x200 + (ulong)(16 * v), [0xb0, (byte)v, 0xe6, 0x15, 0xf4]);   // mov al, v; out 0x15, al; hlt
            Put(Idt + (ulong)(16 * v), (a & 0xffff) | (0x08UL << 16) | (0x8e00UL << 32) | (((a >> 16) & 0xffff) << 48));
            Put(Idt + (ulong)(16 * v) + 8, a >> 32);
        }

        _vm = kvm.CreateVm();
        _vm.SetMemorySlot(0, 0, MemoryBytes, _memory.HostAddress(0));
        _vcpu = _vm.CreateVcpu(0);
        _vcpu.SetCpuid(kvm.GetSupportedCpuid().ToArray());
        SpecialRegisters s = _vcpu.GetSpecialRegisters();
        s.Cr3 = 0x1000;
        s.Cr4 = 0x20 | 0x200 | 0x400;
        s.Cr0 = 0x80050033;
        s.Efer = 0x500;
        s.Cs = new Segment { Limit = 0xffffffff, Selector = 0x08, Type = 11, Present = 1, S = 1, L = 1, G = 1 };
        Segment data = new() { Limit = 0xffffffff, Selector = 0x10, Type = 3, Present = 1, Db = 1, S = 1, G = 1 };
        s.Ds = data;
        s.Es = data;
        s.Fs = data;
        s.Gs = data;
        s.Ss = data;
        s.Gdt = new DescriptorTable { Base = Gdt, Limit = 0x2f };
        s.Idt = new DescriptorTable { Base = Idt, Limit = (32 * 16) - 1 };
        s.Tr = new Segment { Base = Tss, Limit = 0x67, Type = 11, Present = 1 };
        _vcpu.SetSpecialRegisters(s);
        _vcpu.SetRegisters(new Registers { Rip = Kernel, Rflags = 2, Rsp = 0x300000, R14 = 1 });
        Run();
    }

    /// <summary>Seconds per ring-3 → ring-0 → ring-3 exception round trip, over n of them (chunks of 1000 per KVM_RUN).</summary>
    public double TimeRoundTrips(int n)
    {
        const int Chunk = 1000;
        int runs = Math.Max(1, n / Chunk);
        Registers r = _vcpu.GetRegisters();
        r.R14 = Chunk;
        _vcpu.SetRegisters(r);
        Run();
        long t0 = Clock.Now;
        for (int i = 0; i < runs; i++)
        {
            Run();
        }

        return Clock.Seconds(t0, Clock.Now) / (runs * (double)Chunk);
    }

    public void Dispose()
    {
        _vm.Dispose();
        _memory.Dispose();
    }

    private void Run()
    {
        VcpuExit exit = _vcpu.Run();
        if (exit.Reason != VcpuExitReason.Io || exit.IoPort != Port)
        {
            throw new BenchException($"bare trap VM: expected an OUT to port 0x{Port:x}, got {exit} (port 0x15: exception vector in data) at rip 0x{_vcpu.GetRegisters().Rip:x}");
        }
    }
}
