namespace XenSharp.Abi;

/// <summary>CALLBACKTYPE_* and callback_op commands (xen/include/public/callback.h).</summary>
public static class CallbackType
{
    public const int Event = 0;
    public const int Failsafe = 1;
    public const int Syscall = 2;
    public const int SysenterDeprecated = 3;
    public const int Nmi = 4;
    public const int Sysenter = 5;
    public const int Syscall32 = 7;

    public const int OpRegister = 0;
    public const int OpUnregister = 1;

    public const ushort FlagMaskEvents = 1;

    /// <summary>struct callback_register: type u16 @0, flags u16 @2, address u64 @8.</summary>
    public const int RegisterSize = 16;
}
