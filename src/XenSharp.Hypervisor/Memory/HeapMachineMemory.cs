namespace XenSharp.Hypervisor.Memory;

/// <summary>Machine memory backed by a managed array: for unit tests and tools that never run a vCPU.</summary>
internal sealed class HeapMachineMemory : IMachineMemory
{
    private readonly byte[] _bytes;

    public HeapMachineMemory(int sizeBytes) => _bytes = new byte[sizeBytes];

    public ulong Size => (ulong)_bytes.Length;

    public Span<byte> GetSpan(ulong address, int length)
    {
        if (length < 0 || address > (ulong)_bytes.Length || (ulong)length > (ulong)_bytes.Length - address)
        {
            throw new ArgumentOutOfRangeException(nameof(address), $"machine range {address:x}+{length:x} is outside the pool");
        }

        return _bytes.AsSpan((int)address, length);
    }

    public void Discard(ulong address, ulong length) => GetSpan(address, checked((int)length)).Clear();

    public nint HostAddress(ulong address) => 0;
}
