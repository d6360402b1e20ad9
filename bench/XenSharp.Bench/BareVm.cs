using System.Buffers.Binary;
using XenSharp.Kvm;

namespace XenSharp.Bench;

/// <summary>
/// The smallest VM XenSharp.Kvm can run: 4 MiB identity-mapped with 2 MiB pages, one vCPU in 64-bit ring 0 looping
/// <c>out 0x14, al; jmp back</c>, so every KVM_RUN is exactly one exit round trip (the setup of
/// ../shared/reference/kvm-probes/exit.c, beside the repository). Baseline (i) of figure (a), and its start-up is the baseline of the
/// in-process boot figure.
/// </summary>
public sealed class BareVm : IDisposable
{
    public const ushort Port = 0x14;

    private const ulong MemoryBytes = 0x400000;
    private const ulong Pml4 = 0x1000;
    private const ulong Pdpt = 0x2000;
    private const ulong Pd = 0x3000;
    private const ulong Gdt = 0x6000;
    private const ulong Code = 0x10000;
    private const ulong Stack = 0x300000;

    private readonly KvmVm _vm;

    private BareVm(KvmVm vm, KvmVcpu vcpu)
    {
        _vm = vm;
        Vcpu = vcpu;
    }

    public KvmVcpu Vcpu { get; }

    /// <summary>Guest memory with the page tables, GDT and loop already written; shared by every <see cref="Start"/>.</summary>
    public static MachineMemory CreateMemory()
    {
        MachineMemory memory = MachineMemory.Create(MemoryBytes, "xensharp-bench-exit");
        void Put(ulong address, ulong value) => BinaryPrimitives.WriteUInt64LittleEndian(memory.GetSpan(address, 8), value);
        Put(Pml4, Pdpt | 3);
        Put(Pdpt, Pd | 3);
        Put(Pd, 0x83);                         // 0-2 MiB: present, writable, 2 MiB page
        Put(Pd + 8, 0x200000 | 0x83);          // 2-4 MiB
        Put(Gdt + 8, 0x00209a0000000000UL);    // 0x08: 64-bit code, DPL 0
        Put(Gdt + 16, 0x0000920000000000UL);   // 0x10: data
        ReadOnlySpan<byte> loop = [0xe6, (byte)Port, 0xeb, 0xfc]; // out 0x14, al; jmp -4
        loop.CopyTo(memory.GetSpan(Code, loop.Length));
        return memory;
    }

    /// <summary>Creates the VM and vCPU, sets them up, and runs to the first exit (which it checks).</summary>
    public static BareVm Start(KvmSystem kvm, MachineMemory memory)
    {
        KvmVm vm = kvm.CreateVm();
        try
        {
            vm.SetMemorySlot(0, 0, MemoryBytes, memory.HostAddress(0));
            KvmVcpu vcpu = vm.CreateVcpu(0);
            vcpu.SetCpuid(kvm.GetSupportedCpuid().ToArray());

            SpecialRegisters s = vcpu.GetSpecialRegisters();
            s.Cr3 = Pml4;
            s.Cr4 = 0x20;        // PAE
            s.Cr0 = 0x80050033;  // PG AM WP NE ET MP PE
            s.Efer = 0x500;      // LMA LME
            s.Cs = new Segment { Limit = 0xffffffff, Selector = 0x08, Type = 11, Present = 1, S = 1, L = 1, G = 1 };
            Segment data = new() { Limit = 0xffffffff, Selector = 0x10, Type = 3, Present = 1, Db = 1, S = 1, G = 1 };
            s.Ds = data;
            s.Es = data;
            s.Fs = data;
            s.Gs = data;
            s.Ss = data;
            s.Gdt = new DescriptorTable { Base = Gdt, Limit = 0x17 };
            vcpu.SetSpecialRegisters(s);
            vcpu.SetRegisters(new Registers { Rip = Code, Rflags = 2, Rsp = Stack });

            var bare = new BareVm(vm, vcpu);
            bare.RoundTrip();
            return bare;
        }
        catch
        {
            vm.Dispose();
            throw;
        }
    }

    /// <summary>Seconds per KVM_RUN round trip over <paramref name="n"/> of them.</summary>
    public double TimeRoundTrips(int n)
    {
        RoundTrip();
        long t0 = Clock.Now;
        for (int i = 0; i < n; i++)
        {
            RoundTrip();
        }

        return Clock.Seconds(t0, Clock.Now) / n;
    }

    public void Dispose() => _vm.Dispose();

    private void RoundTrip()
    {
        VcpuExit exit = Vcpu.Run();
        if (exit.Reason != VcpuExitReason.Io || exit.IoPort != Port)
        {
            throw new BenchException($"bare VM: expected an OUT to port 0x{Port:x}, got {exit}");
        }
    }
}
