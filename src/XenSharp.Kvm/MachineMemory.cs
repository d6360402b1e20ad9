using System.Globalization;
using System.Runtime.InteropServices;
using XenSharp.Kvm.Native;

namespace XenSharp.Kvm;

/// <summary>All machine memory: one memfd, mapped once, MAP_SHARED. Every VM maps slices of it as memory slots, so a
/// frame can be shared between VMs (grant mappings) simply by two slots pointing at it. Sparse: a page costs host memory
/// only once touched, and <see cref="Discard"/> gives it back.</summary>
/// <remarks>Dispose only after every VM whose slots point into it is gone: the slots hold host addresses, not references.</remarks>
public sealed unsafe class MachineMemory : IDisposable
{
    public const ulong PageSize = 4096;

    private readonly FileDescriptor _fd;
    private readonly Mapping _mapping;
    private byte* _base;

    private MachineMemory(FileDescriptor fd, Mapping mapping, ulong size)
    {
        _fd = fd;
        _mapping = mapping;
        _base = mapping.Pointer;
        Size = size;
    }

    public ulong Size { get; }

    /// <summary>memfd_create(MFD_CLOEXEC) + ftruncate + one mmap(MAP_SHARED) of the whole size.</summary>
    /// <exception cref="ArgumentException">The size is 0 or not a multiple of 4096.</exception>
    /// <exception cref="IOException">The host refused (out of address space, file size limit...).</exception>
    public static MachineMemory Create(ulong sizeBytes, string name = "xensharp-pool")
    {
        ArgumentNullException.ThrowIfNull(name);
        if (sizeBytes == 0 || sizeBytes % PageSize != 0 || sizeBytes > long.MaxValue)
        {
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture,
                $"machine memory size {sizeBytes} bytes must be a non-zero multiple of 4096 (the page size)"), nameof(sizeBytes));
        }

        int raw = LibC.MemfdCreate(name, LibC.MFD_CLOEXEC);
        if (raw < 0)
        {
            throw Failed("memfd_create", name, Marshal.GetLastPInvokeError());
        }

        var fd = new FileDescriptor(raw);
        try
        {
            int rc;
            do
            {
                rc = LibC.Ftruncate(fd, (long)sizeBytes);
            }
            while (rc < 0 && Marshal.GetLastPInvokeError() == ErrnoNames.EINTR);

            if (rc < 0)
            {
                throw Failed(string.Create(CultureInfo.InvariantCulture, $"ftruncate to {sizeBytes} bytes"), name, Marshal.GetLastPInvokeError());
            }

            Mapping mapping = Mapping.TryMapShared(fd, (nuint)sizeBytes, out int errno)
                ?? throw Failed(string.Create(CultureInfo.InvariantCulture, $"mmap of {sizeBytes} bytes"), name, errno);
            return new MachineMemory(fd, mapping, sizeBytes);
        }
        catch
        {
            fd.Dispose();
            throw;
        }
    }

    /// <summary>Host address of byte <paramref name="offset"/>, e.g. for <see cref="KvmVm.SetMemorySlot"/>.</summary>
    public nint HostAddress(ulong offset)
    {
        byte* start = Start;
        if (offset >= Size)
        {
            throw new ArgumentOutOfRangeException(nameof(offset), offset, string.Create(CultureInfo.InvariantCulture,
                $"offset 0x{offset:x} is outside machine memory of 0x{Size:x} bytes"));
        }

        return (nint)(start + offset);
    }

    /// <summary>Host address of [offset, offset+length), checking that all of it lies inside machine memory.</summary>
    public nint HostAddress(ulong offset, ulong length)
    {
        byte* start = Start;
        CheckRange(offset, length);
        return (nint)(start + offset);
    }

    /// <summary>A view of [offset, offset+length). Valid until Dispose.</summary>
    public Span<byte> GetSpan(ulong offset, int length)
    {
        byte* start = Start;
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        CheckRange(offset, (ulong)length);
        return new Span<byte>(start + offset, length);
    }

    /// <summary>fallocate(PUNCH_HOLE|KEEP_SIZE): the host memory behind the range is freed and every mapping of it,
    /// including guests' memory slots, reads zeros from then on. Offset and length must be page aligned.</summary>
    public void Discard(ulong offset, ulong length)
    {
        _ = Start;
        if (offset % PageSize != 0 || length % PageSize != 0)
        {
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture,
                $"discard range 0x{offset:x}+0x{length:x} must be page aligned (4096)"));
        }

        CheckRange(offset, length);
        if (length == 0)
        {
            return;
        }

        int rc;
        do
        {
            rc = LibC.Fallocate(_fd, LibC.FALLOC_FL_PUNCH_HOLE | LibC.FALLOC_FL_KEEP_SIZE, (long)offset, (long)length);
        }
        while (rc < 0 && Marshal.GetLastPInvokeError() == ErrnoNames.EINTR);

        if (rc < 0)
        {
            throw new IOException(string.Create(CultureInfo.InvariantCulture,
                $"fallocate(PUNCH_HOLE) of machine memory 0x{offset:x}+0x{length:x} failed: {ErrnoNames.Describe(Marshal.GetLastPInvokeError())}"));
        }
    }

    public void Dispose()
    {
        _base = null;
        _mapping.Dispose();
        _fd.Dispose();
    }

    private byte* Start
    {
        get
        {
            byte* start = _base;
            ObjectDisposedException.ThrowIf(start == null, this);
            return start;
        }
    }

    private void CheckRange(ulong offset, ulong length)
    {
        // Written as two comparisons so that offset + length cannot wrap around.
        if (offset > Size || length > Size - offset)
        {
            throw new ArgumentOutOfRangeException(nameof(offset), offset, string.Create(CultureInfo.InvariantCulture,
                $"range 0x{offset:x}+0x{length:x} is outside machine memory of 0x{Size:x} bytes"));
        }
    }

    private static IOException Failed(string what, string name, int errno) =>
        new($"{what} for machine memory \"{name}\" failed: {ErrnoNames.Describe(errno)}");
}
