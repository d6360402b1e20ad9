using System.Runtime.InteropServices;
using XenSharp.Kvm.Native;

namespace XenSharp.Kvm;

/// <summary>The open /dev/kvm. VMs created from it stay usable after it is disposed (the kernel keeps its own reference).</summary>
public sealed unsafe class KvmSystem : IDisposable
{
    private const string SysModule = "/sys/module";

    // KVM caps KVM_GET_SUPPORTED_CPUID at KVM_MAX_CPUID_ENTRIES (256 today); the upper bound only stops a runaway loop.
    private const int InitialCpuidCapacity = 128;
    private const int MaxCpuidCapacity = 1 << 16;

    private readonly FileDescriptor _fd;

    private KvmSystem(FileDescriptor fd, KvmKind kind, int apiVersion, int vcpuMmapSize)
    {
        _fd = fd;
        Kind = kind;
        ApiVersion = apiVersion;
        VcpuMmapSize = vcpuMmapSize;
    }

    public KvmKind Kind { get; }

    public int ApiVersion { get; }

    /// <summary>KVM_GET_VCPU_MMAP_SIZE: bytes of the per-vCPU kvm_run mapping (kvm_run plus the PIO data page etc.).</summary>
    public int VcpuMmapSize { get; }

    /// <exception cref="KvmUnavailableException">No KVM device, no permission, or a KVM API other than 12.</exception>
    public static KvmSystem Open(string path = "/dev/kvm")
    {
        ArgumentNullException.ThrowIfNull(path);
        int raw;
        do
        {
            raw = LibC.Open(path, LibC.O_RDWR | LibC.O_CLOEXEC);
        }
        while (raw < 0 && Marshal.GetLastPInvokeError() == ErrnoNames.EINTR);

        if (raw < 0)
        {
            throw Unavailable(path, Marshal.GetLastPInvokeError());
        }

        var fd = new FileDescriptor(raw);
        try
        {
            int api = Ioctl.Invoke(fd, KvmIoctls.GetApiVersion, 0, "KVM_GET_API_VERSION");
            if (api != KvmConstants.ApiVersion)
            {
                throw new KvmUnavailableException(
                    $"{path} speaks KVM API version {api}, but only version {KvmConstants.ApiVersion} is supported");
            }

            int mmapSize = Ioctl.Invoke(fd, KvmIoctls.GetVcpuMmapSize, 0, "KVM_GET_VCPU_MMAP_SIZE");
            return new KvmSystem(fd, DetectKind(), api, mmapSize);
        }
        catch
        {
            fd.Dispose();
            throw;
        }
    }

    /// <summary>Which vendor module is loaded. kvm_pvm is checked first: where it is loaded it is what serves /dev/kvm.</summary>
    public static KvmKind DetectKind() => DetectKind(SysModule);

    internal static KvmKind DetectKind(string sysModuleDirectory)
    {
        if (Directory.Exists(Path.Combine(sysModuleDirectory, "kvm_pvm")))
        {
            return KvmKind.Pvm;
        }

        if (Directory.Exists(Path.Combine(sysModuleDirectory, "kvm_intel")))
        {
            return KvmKind.Intel;
        }

        if (Directory.Exists(Path.Combine(sysModuleDirectory, "kvm_amd")))
        {
            return KvmKind.Amd;
        }

        return KvmKind.Unknown;
    }

    /// <summary>KVM_CHECK_EXTENSION on /dev/kvm: 0 when unsupported, otherwise a capability-specific value.</summary>
    public int CheckExtension(uint capability) =>
        Ioctl.Invoke(_fd, KvmIoctls.CheckExtension, capability, "KVM_CHECK_EXTENSION");

    /// <summary>KVM_GET_SUPPORTED_CPUID: every leaf KVM can present to a guest, with the bits it can virtualize.</summary>
    public IReadOnlyList<CpuidEntry> GetSupportedCpuid()
    {
        int capacity = InitialCpuidCapacity;
        while (true)
        {
            using var buffer = new NativeBuffer(KvmIoctls.SizeofKvmCpuid2 + (nuint)capacity * (nuint)sizeof(KvmCpuidEntry2));
            *(uint*)buffer.Pointer = (uint)capacity;
            int rc = LibC.Ioctl(_fd, KvmIoctls.GetSupportedCpuid, buffer.Pointer);
            if (rc < 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                if (errno == ErrnoNames.EINTR)
                {
                    continue;
                }

                if (errno == ErrnoNames.E2BIG && capacity < MaxCpuidCapacity)
                {
                    capacity *= 2;
                    continue;
                }

                throw new KvmException("KVM_GET_SUPPORTED_CPUID", errno, $"room for {capacity} entries");
            }

            int count = (int)*(uint*)buffer.Pointer;
            var entries = new CpuidEntry[count];
            var native = (KvmCpuidEntry2*)(buffer.Pointer + KvmIoctls.SizeofKvmCpuid2);
            for (int i = 0; i < count; i++)
            {
                KvmCpuidEntry2 e = native[i];
                entries[i] = new CpuidEntry(e.Function, e.Index, e.Flags, e.Eax, e.Ebx, e.Ecx, e.Edx);
            }

            return entries;
        }
    }

    /// <summary>KVM_CREATE_VM with the default machine type.</summary>
    public KvmVm CreateVm()
    {
        int raw = Ioctl.Invoke(_fd, KvmIoctls.CreateVm, 0, "KVM_CREATE_VM");
        var fd = new FileDescriptor(raw);
        try
        {
            return new KvmVm(fd, VcpuMmapSize);
        }
        catch
        {
            fd.Dispose();
            throw;
        }
    }

    public void Dispose() => _fd.Dispose();

    internal static KvmUnavailableException Unavailable(string path, int errno) => errno switch
    {
        ErrnoNames.ENOENT => new KvmUnavailableException($"{path} does not exist: this host has no KVM"),
        ErrnoNames.EACCES or ErrnoNames.EPERM =>
            new KvmUnavailableException($"no permission to open {path} (run as root or join the kvm group)"),
        ErrnoNames.ENXIO or ErrnoNames.ENODEV =>
            new KvmUnavailableException($"{path} exists but no KVM driver answers it (is a kvm_* module loaded?)"),
        _ => new KvmUnavailableException($"cannot open {path}: {ErrnoNames.Describe(errno)}"),
    };
}
