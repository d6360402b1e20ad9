using System.Text;
using XenSharp.Abi;
using XenSharp.Hypervisor.Domains;

namespace XenSharp.Hypervisor.Hypercalls;

/// <summary>xen_version(cmd, arg): who we are. We report the Xen interface version we follow (4.17).</summary>
internal static class XenVersionHypercall
{
    public const int Major = 4;
    public const int Minor = 17;
    public const string ExtraVersion = "-xensharp";
    public const string Capabilities = "xen-3.0-x86_64 ";

    public static long XenVersion(Vcpu vcpu, ulong cmd, ulong arg, ulong a3, ulong a4, ulong a5)
    {
        switch (cmd)
        {
            case XenVersionOp.Version:
                return (Major << 16) | Minor;
            case XenVersionOp.ExtraVersion:
                return CopyString(vcpu, arg, ExtraVersion, XenVersionOp.ExtraVersionSize);
            case XenVersionOp.Capabilities:
                return CopyString(vcpu, arg, Capabilities, XenVersionOp.CapabilitiesSize);
            case XenVersionOp.Changeset:
                return CopyString(vcpu, arg, $"xensharp {typeof(XenVersionHypercall).Assembly.GetName().Version}", XenVersionOp.ChangesetSize);
            case XenVersionOp.CompileInfo:
            {
                Span<byte> info = stackalloc byte[XenVersionOp.CompileInfoSize];
                info.Clear();
                Encoding.ASCII.GetBytes(".NET " + Environment.Version, info[..63]);
                Encoding.ASCII.GetBytes("xensharp", info.Slice(64, 15));
                Encoding.ASCII.GetBytes("localdomain", info.Slice(80, 31));
                return vcpu.CopyToGuest(arg, info) ? 0 : -XenErrno.EFAULT;
            }

            case XenVersionOp.PlatformParameters:
            {
                Span<byte> p = stackalloc byte[8];
                System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(p, XenVirtualLayout.HypervisorVirtStart);
                return vcpu.CopyToGuest(arg, p) ? 0 : -XenErrno.EFAULT;
            }

            case XenVersionOp.GetFeatures:
            {
                Span<byte> f = stackalloc byte[8];
                if (!vcpu.CopyFromGuest(arg, f[..4]))
                {
                    return -XenErrno.EFAULT;
                }

                uint index = System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(f);
                if (index != 0)
                {
                    return -XenErrno.EINVAL;
                }

                System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(f[4..], GuestFeatures.Submap0(vcpu.Domain));
                return vcpu.CopyToGuest(arg + 4, f.Slice(4, 4)) ? 0 : -XenErrno.EFAULT;
            }

            case XenVersionOp.PageSize:
                return 4096;
            case XenVersionOp.GuestHandle:
                return vcpu.CopyToGuest(arg, vcpu.Domain.Handle.ToByteArray()) ? 0 : -XenErrno.EFAULT;
            case XenVersionOp.CommandLine:
            case XenVersionOp.BuildId:
                return -XenErrno.EPERM; // privileged information, as for a Xen domU
            default:
                return -XenErrno.ENOSYS;
        }
    }

    private static long CopyString(Vcpu vcpu, ulong arg, string value, int size)
    {
        Span<byte> buf = stackalloc byte[size];
        buf.Clear();
        Encoding.ASCII.GetBytes(value.AsSpan(0, Math.Min(value.Length, size - 1)), buf);
        return vcpu.CopyToGuest(arg, buf) ? 0 : -XenErrno.EFAULT;
    }
}
