namespace XenSharp.Kvm;

public readonly record struct MsrValue(uint Index, ulong Value);
