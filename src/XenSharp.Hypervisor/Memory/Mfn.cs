namespace XenSharp.Hypervisor.Memory;

/// <summary>A machine frame number: an index into the global pool. Guest-physical address in a KVM VM == machine address.</summary>
public readonly record struct Mfn(ulong Value)
{
    public const int PageShift = 12;
    public const int PageSize = 4096;

    public ulong Address => Value << PageShift;

    public static Mfn FromAddress(ulong address) => new(address >> PageShift);

    public Mfn Add(ulong frames) => new(Value + frames);

    public override string ToString() => $"mfn {Value:x}";
}
