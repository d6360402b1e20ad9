namespace XenSharp.Hypervisor.Memory;

/// <summary>Access to machine memory by machine address. Implemented over the KVM memfd pool, and over an array in tests.</summary>
internal interface IMachineMemory
{
    ulong Size { get; }

    Span<byte> GetSpan(ulong address, int length);

    /// <summary>Returns the frames to the host and makes them read as zero.</summary>
    void Discard(ulong address, ulong length);

    /// <summary>Host address of a machine address, for KVM memory slots; 0 where there is no host mapping (tests).</summary>
    nint HostAddress(ulong address);
}
