using System.Runtime.InteropServices;

namespace XenSharp.Kvm.Native;

/// <summary>Zeroed native memory for variable-length ioctl arguments (cpuid2, msrs): no pinning, freed on Dispose.</summary>
internal readonly unsafe struct NativeBuffer : IDisposable
{
    public NativeBuffer(nuint length)
    {
        Pointer = (byte*)NativeMemory.AllocZeroed(length);
    }

    public byte* Pointer { get; }

    public void Dispose() => NativeMemory.Free(Pointer);
}
