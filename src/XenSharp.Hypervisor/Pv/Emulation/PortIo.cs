using System.Buffers.Binary;
using XenSharp.Hypervisor.Domains;

namespace XenSharp.Hypervisor.Pv.Emulation;

/// <summary>
/// Port I/O for a PV domU, as Xen's guest_io_okay, guest_io_read and guest_io_write (pv/emul-priv-op.c) treat a domain
/// that was granted no I/O ports:
/// <list type="bullet">
/// <item>Permission: the virtual IOPL admits the access (guest kernel counts as CPL 1, or CPL 0 with
/// VMASST_TYPE_architectural_iopl; guest user as CPL 3), or the PHYSDEVOP_set_iobitmap bitmap clears every port of it
/// (read from guest memory through the kernel's page tables); otherwise #GP(0).</item>
/// <item>Permitted accesses touch no hardware: reads return all ones, writes are dropped, except RTC index port 0x70
/// (a latched index, read back with bit 7 clear), and the PCI CONFIG_ADDRESS port 0xcf8 (dword: latched). A domU has
/// no virtual PIT, so ports 0x42/0x43/0x61 read all ones too.</item>
/// </list>
/// The stub answers the guest kernel's plain in/out to every other port itself, without an exit (Stub/StubPortIo): a
/// port given a behaviour here must be added to <c>StubPortIo.HostPorts</c>.
/// </summary>
internal static class PortIo
{
    private const uint RtcIndexPort = 0x70;
    private const uint PciConfigAddress = 0xcf8;
    private const uint PciConfigData = 0xcfc;

    /// <summary>Whether the virtual IOPL admits I/O (and CLI/STI) in the vCPU's current mode.</summary>
    public static bool IoplAllows(Vcpu v)
    {
        bool architectural = (v.Domain.VmAssist & (1UL << Abi.VmAssist.TypeArchitecturalIopl)) != 0;
        int cpl = v.InKernelMode ? (architectural ? 0 : 1) : 3;
        return cpl <= v.VirtualIopl;
    }

    /// <summary>Xen's guest_io_okay: null when the access is permitted, otherwise the fault to deliver.</summary>
    public static EmulationResult? CheckAccess(Vcpu v, uint port, int bytes)
    {
        v.Domain.Exits?.Port(port);
        if (IoplAllows(v))
        {
            return null;
        }

        PvEmulationState s = v.Emulation;
        if (port + (uint)bytes <= s.IoBitmapPorts)
        {
            // Like the TSS bitmap, always two bytes are read (the second may lie one past the last port).
            ulong address = s.IoBitmap + (port >> 3);
            Span<byte> mask = stackalloc byte[2];
            if (!GuestAccess.CopyFrom(v.Domain.Pool, v.Domain.Id, v.KernelL4, address, mask))
            {
                return PageFaults.Fault(v, PageFaults.FirstInaccessible(v, v.KernelL4, address, 2, write: false), write: false);
            }

            uint bits = BinaryPrimitives.ReadUInt16LittleEndian(mask);
            if ((bits & (((1u << bytes) - 1) << (int)(port & 7))) == 0)
            {
                return null;
            }
        }

        return EmulationResult.Fault(13, 0);
    }

    /// <summary>What a permitted read of <paramref name="bytes"/> from <paramref name="port"/> returns to a domU.</summary>
    public static uint Read(Vcpu v, uint port, int bytes)
    {
        PvDomainIoState d = PvDomainIoState.Of(v.Domain);
        uint data = 0;
        int shift = 0;
        while (bytes > 0)
        {
            int size = 1;
            uint sub = uint.MaxValue;
            if (port == RtcIndexPort)
            {
                sub = d.CmosIndex & 0x7fu; // the latched index, NMI-disable bit not reflected
            }
            else if (port == PciConfigAddress && bytes == 4)
            {
                return d.PciCf8;
            }
            else if ((port & 0xfffc) == PciConfigData)
            {
                size = Math.Min(bytes, 4 - (int)(port & 3));
                if (size == 3)
                {
                    size = 2;
                }

                if (size == 4)
                {
                    return uint.MaxValue; // no PCI configuration space for a domU
                }
            }

            // RTC data (0x71: a domU may not reach the real RTC), PIT (0x42, 0x43, 0x61), anything else: all ones.
            data |= (sub & ((1u << (size * 8)) - 1)) << shift;
            shift += size * 8;
            port += (uint)size;
            bytes -= size;
        }

        return data;
    }

    /// <summary>A permitted write from a domU: only the RTC index and CONFIG_ADDRESS latch anything.</summary>
    public static void Write(Vcpu v, uint port, int bytes, uint data)
    {
        PvDomainIoState d = PvDomainIoState.Of(v.Domain);
        while (bytes > 0)
        {
            int size = 1;
            if (port == RtcIndexPort)
            {
                d.CmosIndex = (byte)(data & 0x7f);
            }
            else if (port == PciConfigAddress && bytes == 4)
            {
                d.PciCf8 = data;
                return;
            }
            else if ((port & 0xfffc) == PciConfigData)
            {
                size = Math.Min(bytes, 4 - (int)(port & 3));
                if (size == 3)
                {
                    size = 2;
                }

                if (size == 4)
                {
                    return;
                }
            }

            port += (uint)size;
            bytes -= size;
            data >>= size * 8;
        }
    }
}
