using System.Globalization;

namespace XenSharp.Kvm;

/// <summary>Why KVM_RUN returned, decoded from kvm_run. A value copy: it stays valid after the next Run(), unlike kvm_run itself.</summary>
public readonly struct VcpuExit
{
    private readonly ulong _data;

    private VcpuExit(VcpuExitReason reason, uint rawReason, ushort ioPort = 0, bool ioIsOut = false, byte ioSize = 0, uint ioCount = 0,
        ulong data = 0, ulong hardwareReason = 0, ulong mmioAddress = 0, bool mmioIsWrite = false, byte mmioLength = 0, uint systemEventType = 0)
    {
        Reason = reason;
        RawReason = rawReason;
        IoPort = ioPort;
        IoIsOut = ioIsOut;
        IoSize = ioSize;
        IoCount = ioCount;
        _data = data;
        HardwareReason = hardwareReason;
        MmioAddress = mmioAddress;
        MmioIsWrite = mmioIsWrite;
        MmioLength = mmioLength;
        SystemEventType = systemEventType;
    }

    public VcpuExitReason Reason { get; }

    /// <summary>kvm_run->exit_reason (KVM_EXIT_*), for the cases <see cref="Reason"/> folds together or does not know.</summary>
    public uint RawReason { get; }

    public ushort IoPort { get; }

    public bool IoIsOut { get; }

    /// <summary>Bytes per element: 1, 2 or 4.</summary>
    public byte IoSize { get; }

    /// <summary>Elements: more than 1 only for REP INS/OUTS.</summary>
    public uint IoCount { get; }

    /// <summary>For an OUT, the first element's value (zero-extended). 0 for IN: the answer goes into <see cref="KvmVcpu.GetIoBuffer"/>.</summary>
    public ulong IoData => Reason == VcpuExitReason.Io ? _data : 0;

    /// <summary>fail_entry.hardware_entry_failure_reason for FailEntry, internal.suberror for InternalError.</summary>
    public ulong HardwareReason { get; }

    public ulong MmioAddress { get; }

    public bool MmioIsWrite { get; }

    /// <summary>Access width in bytes (1..8).</summary>
    public byte MmioLength { get; }

    /// <summary>For an MMIO write, the value written (little-endian, <see cref="MmioLength"/> bytes).</summary>
    public ulong MmioData => Reason == VcpuExitReason.Mmio ? _data : 0;

    /// <summary>system_event.type (KVM_SYSTEM_EVENT_*: 1 shutdown, 2 reset, 3 crash, ...).</summary>
    public uint SystemEventType { get; }

    internal static VcpuExit Io(uint raw, ushort port, bool isOut, byte size, uint count, ulong data) =>
        new(VcpuExitReason.Io, raw, ioPort: port, ioIsOut: isOut, ioSize: size, ioCount: count, data: data);

    internal static VcpuExit Mmio(uint raw, ulong address, bool isWrite, byte length, ulong data) =>
        new(VcpuExitReason.Mmio, raw, mmioAddress: address, mmioIsWrite: isWrite, mmioLength: length, data: data);

    internal static VcpuExit WithHardwareReason(VcpuExitReason reason, uint raw, ulong hardwareReason) =>
        new(reason, raw, hardwareReason: hardwareReason);

    internal static VcpuExit SystemEvent(uint raw, uint type) => new(VcpuExitReason.SystemEvent, raw, systemEventType: type);

    internal static VcpuExit Simple(VcpuExitReason reason, uint raw) => new(reason, raw);

    public override string ToString() => Reason switch
    {
        VcpuExitReason.Io when IoIsOut => Invariant($"Io out port 0x{IoPort:x} size {IoSize} count {IoCount} data 0x{IoData:x}"),
        VcpuExitReason.Io => Invariant($"Io in port 0x{IoPort:x} size {IoSize} count {IoCount}"),
        VcpuExitReason.Mmio when MmioIsWrite => Invariant($"Mmio write 0x{MmioAddress:x} length {MmioLength} data 0x{MmioData:x}"),
        VcpuExitReason.Mmio => Invariant($"Mmio read 0x{MmioAddress:x} length {MmioLength}"),
        VcpuExitReason.FailEntry => Invariant($"FailEntry hardware reason 0x{HardwareReason:x}"),
        VcpuExitReason.InternalError => Invariant($"InternalError suberror {HardwareReason}"),
        VcpuExitReason.SystemEvent => Invariant($"SystemEvent type {SystemEventType}"),
        VcpuExitReason.Unknown => Invariant($"Unknown exit reason {RawReason}"),
        _ => Reason.ToString(),
    };

    private static string Invariant(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
