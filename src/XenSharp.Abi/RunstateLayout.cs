namespace XenSharp.Abi;

/// <summary>vcpu_runstate_info (xen/include/public/vcpu.h): state i32 @0, state_entry_time u64 @8, time[4] u64 @16.</summary>
public static class RunstateLayout
{
    public const int State = 0;
    public const int StateEntryTime = 8;
    public const int Time = 16;
    public const int Size = 48;

    public const int Running = 0;
    public const int Runnable = 1;
    public const int Blocked = 2;
    public const int Offline = 3;

    /// <summary>Set in state_entry_time while the area is being rewritten, if the guest asked (VMASST_TYPE_runstate_update_flag).</summary>
    public const ulong UpdateFlag = 1UL << 63;
}
