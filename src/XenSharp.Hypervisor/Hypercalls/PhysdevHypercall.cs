using System.Buffers.Binary;
using XenSharp.Abi;
using XenSharp.Hypervisor.Domains;
using XenSharp.Hypervisor.Memory;
using XenSharp.Hypervisor.Pv.Emulation;

namespace XenSharp.Hypervisor.Hypercalls;

/// <summary>
/// physdev_op(cmd, arg) as Xen answers a PV domU that was given no devices, I/O ports or IRQs (xen/arch/x86/physdev.c):
/// <list type="bullet">
/// <item>set_iopl {u32 iopl}: the virtual IOPL (≤ 3, else -EINVAL), always allowed.</item>
/// <item>set_iobitmap {u64 bitmap VA, u32 nr_ports}: recorded; consulted by port-I/O emulation (nr_ports ≤ 65536 and
/// the bitmap address outside the hypervisor's range, else -EINVAL).</item>
/// <item>pirq_eoi_gmfn v1/v2 {u64 gmfn}: the frame (an MFN: PV is not translated) must be the domain's and writable;
/// it stays typed writable from then on; a second registration is -EBUSY.</item>
/// <item>irq_status_query {u32 irq, u32 flags}: flags = needs_eoi for any pirq number the domain could have.</item>
/// <item>eoi: -EINVAL (no pirq is ever bound); IRQ_UNMASK_NOTIFY: 0.</item>
/// <item>The device and interrupt-routing operations (map/unmap_pirq, APIC access, vector allocation, PCI management,
/// MSI-X, MMCONFIG, GSI setup, dbgp): -EPERM, as XSM's default policy refuses them to a domU; restore_msi: -ENODEV.</item>
/// <item>get_free_pirq and anything else: -ENOSYS (pirq allocation is not implemented).</item>
/// </list>
/// </summary>
internal static class PhysdevHypercall
{
    public const int IrqUnmaskNotify = 4;
    public const int IrqStatusQuery = 5;
    public const int SetIopl = 6;
    public const int SetIobitmap = 7;
    public const int ApicRead = 8;
    public const int ApicWrite = 9;
    public const int AllocIrqVector = 10;
    public const int Eoi = 12;
    public const int MapPirq = 13;
    public const int UnmapPirq = 14;
    public const int ManagePciAdd = 15;
    public const int ManagePciRemove = 16;
    public const int PirqEoiGmfnV1 = 17;
    public const int RestoreMsi = 19;
    public const int ManagePciAddExt = 20;
    public const int SetupGsi = 21;
    public const int GetFreePirq = 23;
    public const int PciMmcfgReserved = 24;
    public const int PciDeviceAdd = 25;
    public const int PciDeviceRemove = 26;
    public const int RestoreMsiExt = 27;
    public const int PirqEoiGmfnV2 = 28;
    public const int DbgpOp = 29;
    public const int PrepareMsix = 30;
    public const int ReleaseMsix = 31;
    public const int PciDeviceReset = 32;

    /// <summary>XENIRQSTAT_needs_eoi.</summary>
    public const uint IrqNeedsEoi = 1;

    /// <summary>A domU's pirq space: the host's GSIs (24 with one IO-APIC) plus Xen's default extra_domU_pirqs (32).</summary>
    public const int DomUPirqs = 24 + 32;

    public static long PhysdevOp(Vcpu vcpu, ulong cmd, ulong arg, ulong a3, ulong a4, ulong a5)
    {
        switch (unchecked((int)cmd))
        {
            case SetIopl:
            {
                Span<byte> b = stackalloc byte[4];
                if (!vcpu.CopyFromGuest(arg, b))
                {
                    return -XenErrno.EFAULT;
                }

                uint iopl = BinaryPrimitives.ReadUInt32LittleEndian(b);
                if (iopl > 3)
                {
                    return -XenErrno.EINVAL;
                }

                vcpu.VirtualIopl = (int)iopl;
                return 0;
            }

            case SetIobitmap:
            {
                Span<byte> b = stackalloc byte[12];
                if (!vcpu.CopyFromGuest(arg, b))
                {
                    return -XenErrno.EFAULT;
                }

                ulong bitmap = BinaryPrimitives.ReadUInt64LittleEndian(b);
                uint ports = BinaryPrimitives.ReadUInt32LittleEndian(b[8..]);
                if (!GuestAddressOk(bitmap) || ports > 65536)
                {
                    return -XenErrno.EINVAL;
                }

                vcpu.Emulation.IoBitmap = bitmap;
                vcpu.Emulation.IoBitmapPorts = ports;
                return 0;
            }

            case PirqEoiGmfnV1 or PirqEoiGmfnV2:
                return RegisterPirqEoiFrame(vcpu, arg);

            case IrqStatusQuery:
            {
                Span<byte> b = stackalloc byte[8];
                if (!vcpu.CopyFromGuest(arg, b))
                {
                    return -XenErrno.EFAULT;
                }

                int irq = BinaryPrimitives.ReadInt32LittleEndian(b);
                if (irq is < 0 or >= DomUPirqs)
                {
                    return -XenErrno.EINVAL;
                }

                // Without the EOI map the guest must always EOI; no pirq is shared.
                BinaryPrimitives.WriteUInt32LittleEndian(b[4..], IrqNeedsEoi);
                return vcpu.CopyToGuest(arg + 4, b[4..]) ? 0 : -XenErrno.EFAULT;
            }

            case Eoi:
            {
                Span<byte> b = stackalloc byte[4];
                return vcpu.CopyFromGuest(arg, b) ? -XenErrno.EINVAL : -XenErrno.EFAULT;
            }

            case IrqUnmaskNotify:
                return 0;

            case RestoreMsi or RestoreMsiExt:
                return -XenErrno.ENODEV; // no PCI device is assigned to a domU here

            case ApicRead or ApicWrite or AllocIrqVector or MapPirq or UnmapPirq or ManagePciAdd or ManagePciRemove
                or ManagePciAddExt or SetupGsi or PciMmcfgReserved or PciDeviceAdd or PciDeviceRemove or DbgpOp
                or PrepareMsix or ReleaseMsix or PciDeviceReset:
                return -XenErrno.EPERM;

            default:
                return -XenErrno.ENOSYS;
        }
    }

    private static long RegisterPirqEoiFrame(Vcpu vcpu, ulong arg)
    {
        Span<byte> b = stackalloc byte[8];
        if (!vcpu.CopyFromGuest(arg, b))
        {
            return -XenErrno.EFAULT;
        }

        Domain d = vcpu.Domain;
        var mfn = new Mfn(BinaryPrimitives.ReadUInt64LittleEndian(b));
        lock (d.Mmu.Lock)
        {
            // Xen keeps the page typed writable for the domain's life: it writes the EOI bits there.
            if (d.Mmu.Validator.GetPageAndType(mfn, PageType.Writable) != 0)
            {
                return -XenErrno.EINVAL;
            }

            if (!PvDomainIoState.Of(d).TrySetPirqEoiFrame(mfn.Value))
            {
                d.Mmu.Validator.PutPageAndType(mfn);
                return -XenErrno.EBUSY;
            }
        }

        return 0;
    }

    /// <summary>Xen's access_ok (__addr_ok): the start is below the canonical hole or above the hypervisor's area.</summary>
    private static bool GuestAddressOk(ulong va) => XenVirtualLayout.IsGuestAddress(va);
}
