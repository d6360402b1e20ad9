namespace XenSharp.Kvm.Native;

/// <summary>Numbers from linux/kvm.h other than ioctl requests.</summary>
internal static class KvmConstants
{
    public const int ApiVersion = 12;

    public const uint CapIrqchip = 0;
    public const uint CapNrMemslots = 10;
    public const uint CapSyncRegs = 74;
    public const uint CapSignalMsi = 77;

    public const ulong SyncX86Regs = 1;

    public const uint ExitUnknown = 0;
    public const uint ExitIo = 2;
    public const uint ExitHlt = 5;
    public const uint ExitMmio = 6;
    public const uint ExitShutdown = 8;
    public const uint ExitFailEntry = 9;
    public const uint ExitIntr = 10;
    public const uint ExitInternalError = 17;
    public const uint ExitSystemEvent = 24;

    public const byte ExitIoIn = 0;
    public const byte ExitIoOut = 1;
}
