using System.Runtime.InteropServices;

namespace XenSharp.Kvm.Native;

/// <summary>Owns one mmap()ed range; munmap on release.</summary>
internal sealed unsafe class Mapping : SafeHandle
{
    private Mapping(nint address, nuint length)
        : base(invalidHandleValue: LibC.MapFailed, ownsHandle: true)
    {
        SetHandle(address);
        Length = length;
    }

    public nuint Length { get; }

    public byte* Pointer => (byte*)handle;

    public override bool IsInvalid => handle == LibC.MapFailed || handle == 0;

    /// <summary>Maps <paramref name="length"/> bytes of <paramref name="fd"/> read/write and shared; returns the errno on failure.</summary>
    public static Mapping? TryMapShared(FileDescriptor fd, nuint length, out int errno)
    {
        nint address = LibC.Mmap(0, length, LibC.PROT_READ | LibC.PROT_WRITE, LibC.MAP_SHARED, fd, 0);
        if (address == LibC.MapFailed)
        {
            errno = Marshal.GetLastPInvokeError();
            return null;
        }

        errno = 0;
        return new Mapping(address, length);
    }

    protected override bool ReleaseHandle() => LibC.Munmap(handle, Length) == 0;
}
