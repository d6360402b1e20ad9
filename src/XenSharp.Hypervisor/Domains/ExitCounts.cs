using System.Diagnostics;
using System.Text;
using XenSharp.Abi;
using XenSharp.Hypervisor.Stub;

namespace XenSharp.Hypervisor.Domains;

/// <summary>
/// A domain's exits to the host by reason (`xensharp run --exit-stats`): stub exits by hypercall number and by vector
/// (guest faults, system calls, event checks, kicks), KVM_RUN returns for a kick from the host, the privileged
/// instructions emulated (by mnemonic; the forced-emulation CPUID apart) and the ports those reach; multicall entries
/// are counted beside them, being no exits of their own; so is the port I/O the stub answered without leaving the VM
/// (Stub/StubPortIo), which the stub counts in its vCPUs' data pages and <see cref="Summary"/> reads from there.
/// Invariants: counting never allocates (the arrays are sized once, here) and is safe from every vCPU thread at once
/// (Interlocked); <see cref="Summary"/> reads the counts without stopping the vCPUs, exact once they are stopped.
/// </summary>
internal sealed class ExitCounts
{
    private const int HypercallSlots = 64;         // one more counts numbers past the table
    private const int VectorSlots = 0x104;         // hardware vectors 0-255 and the stub's GuestSyscall..GuestMemoryFault
    private static readonly int MnemonicSlots = Enum.GetValues<Iced.Intel.Mnemonic>().Length;

    private readonly long[] _hypercalls = new long[HypercallSlots + 1];
    private readonly long[] _multicalled = new long[HypercallSlots + 1];
    private readonly long[] _vectors = new long[VectorSlots + 1];
    private readonly long[] _emulated = new long[MnemonicSlots + 1];
    private readonly long[] _ports = new long[0x10000];
    private long _forcedCpuid;
    private long _interrupted;
    private long _started = Stopwatch.GetTimestamp();
    private Func<long>? _portIoInVm;
    private Func<int, long>? _hypercallsInVm;

    /// <summary>Starts the clock of <see cref="Summary"/> again (when the domain's first vCPU starts).</summary>
    public void Restart() => Volatile.Write(ref _started, Stopwatch.GetTimestamp());

    /// <summary>A stub exit for hypercall <paramref name="number"/>.</summary>
    public void Hypercall(ulong number) => Interlocked.Increment(ref _hypercalls[Math.Min(number, HypercallSlots)]);

    /// <summary>One entry of a multicall (no exit of its own).</summary>
    public void Multicalled(ulong number) => Interlocked.Increment(ref _multicalled[Math.Min(number, HypercallSlots)]);

    /// <summary>A stub exit for anything but a hypercall: a hardware vector or one of the stub's own (<see cref="StubVector"/>).</summary>
    public void Vector(ulong vector) => Interlocked.Increment(ref _vectors[Math.Min(vector, VectorSlots)]);

    /// <summary>A KVM_RUN that returned because the host kicked the vCPU.</summary>
    public void Interrupted() => Interlocked.Increment(ref _interrupted);

    /// <summary>A privileged instruction decoded for emulation.</summary>
    public void Emulated(Iced.Intel.Mnemonic mnemonic) => Interlocked.Increment(ref _emulated[Math.Min((uint)mnemonic, (uint)MnemonicSlots)]);

    /// <summary>A forced-emulation CPUID (ud2; "xen"; cpuid).</summary>
    public void ForcedCpuid() => Interlocked.Increment(ref _forcedCpuid);

    /// <summary>An emulated access to <paramref name="port"/> (in, out, ins, outs: one per instruction).</summary>
    public void Port(uint port) => Interlocked.Increment(ref _ports[port & 0xffff]);

    /// <summary>Where <see cref="Summary"/> reads the count of port I/O the stub answered in the VM (no exits).</summary>
    public void CountPortIoInVm(Func<long> read) => _portIoInVm = read;

    public long PortIoInVm => _portIoInVm?.Invoke() ?? 0;

    /// <summary>Where <see cref="Summary"/> reads, by hypercall number, the hypercalls the stub answered in the VM (no exits).</summary>
    public void CountHypercallsInVm(Func<int, long> read) => _hypercallsInVm = read;

    public long HypercallsInVm(int number) => _hypercallsInVm?.Invoke(number) ?? 0;

    public long HypercallCount(int number) => Volatile.Read(ref _hypercalls[number]);

    public long VectorCount(ulong vector) => Volatile.Read(ref _vectors[vector]);

    public long PortCount(uint port) => Volatile.Read(ref _ports[port]);

    public long EmulatedCount(Iced.Intel.Mnemonic mnemonic) => Volatile.Read(ref _emulated[(int)mnemonic]);

    /// <summary>Every exit counted: stub exits (hypercalls and vectors) and host kicks.</summary>
    public long Total => _hypercalls.Sum() + _vectors.Sum() + Volatile.Read(ref _interrupted);

    /// <summary>
    /// One line: the total and the time since the start, then per reason the total and the largest counts, e.g.
    /// <c>exits: 151234 in 95.1 s; hypercalls 112000 (mmu_update 40000, ...); vectors 30000 (#GP 20000, ...); ...</c>;
    /// after the ports the host emulated, <c>port I/O answered in the VM N</c>, and after the hypercalls,
    /// <c>hypercalls answered in the VM N (set_segment_base A, stack_switch B)</c> (neither exits, nor in the total).
    /// </summary>
    public string Summary(int top = 10)
    {
        double seconds = Stopwatch.GetElapsedTime(Volatile.Read(ref _started)).TotalSeconds;
        var s = new StringBuilder();
        s.Append($"exits: {Total} in {seconds:0.0} s");
        Group(s, "hypercalls", _hypercalls, HypercallName, top);
        long segmentBase = HypercallsInVm(HypercallNumber.SetSegmentBase), stackSwitch = HypercallsInVm(HypercallNumber.StackSwitch);
        s.Append($"; hypercalls answered in the VM {segmentBase + stackSwitch} (set_segment_base {segmentBase}, stack_switch {stackSwitch})");
        Group(s, "vectors", _vectors, VectorName, top);
        s.Append($"; kicks from the host {Volatile.Read(ref _interrupted)}");
        Group(s, "emulated", _emulated, i => i == MnemonicSlots ? "?" : ((Iced.Intel.Mnemonic)i).ToString().ToLowerInvariant(), top);
        s.Append($"; forced cpuid {Volatile.Read(ref _forcedCpuid)}");
        Group(s, "ports", _ports, i => $"0x{i:x}", top);
        s.Append($"; port I/O answered in the VM {PortIoInVm}");
        Group(s, "multicall entries", _multicalled, HypercallName, top);
        return s.ToString();
    }

    private static void Group(StringBuilder s, string title, long[] counts, Func<int, string> name, int top)
    {
        long total = counts.Sum();
        s.Append($"; {title} {total}");
        var largest = Enumerable.Range(0, counts.Length).Where(i => counts[i] != 0).OrderByDescending(i => counts[i]).ToList();
        if (largest.Count == 0)
        {
            return;
        }

        s.Append(" (");
        s.Append(string.Join(", ", largest.Take(top).Select(i => $"{name(i)} {counts[i]}")));
        s.Append(largest.Count > top ? $", {largest.Count - top} more)" : ")");
    }

    private static readonly Dictionary<int, string> HypercallNames = typeof(HypercallNumber)
        .GetFields()
        .Where(f => f.IsLiteral && f.FieldType == typeof(int) && f.Name is not (nameof(HypercallNumber.PageStubCount) or nameof(HypercallNumber.PageStubSize)))
        .GroupBy(f => (int)f.GetRawConstantValue()!)
        .ToDictionary(g => g.Key, g => Snake(g.First().Name));

    private static string HypercallName(int number) =>
        number == HypercallSlots ? "64+" : HypercallNames.TryGetValue(number, out string? n) ? n : number.ToString();

    private static string VectorName(int vector) => (ulong)vector switch
    {
        StubVector.GuestSyscall => "syscall",
        StubVector.EventCheck => "event-check",
        StubVector.GuestMemoryFault => "stub-memory-fault",
        StubVector.Kick => "kick",
        0 => "#DE", 1 => "#DB", 2 => "NMI", 3 => "#BP", 4 => "#OF", 5 => "#BR", 6 => "#UD", 7 => "#NM", 8 => "#DF",
        10 => "#TS", 11 => "#NP", 12 => "#SS", 13 => "#GP", 14 => "#PF", 16 => "#MF", 17 => "#AC", 18 => "#MC", 19 => "#XM",
        _ => $"vector 0x{vector:x}",
    };

    private static string Snake(string pascal)
    {
        var s = new StringBuilder();
        foreach (char c in pascal)
        {
            if (char.IsUpper(c) && s.Length > 0)
            {
                s.Append('_');
            }

            s.Append(char.ToLowerInvariant(c));
        }

        return s.ToString();
    }
}
