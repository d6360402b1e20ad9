namespace XenSharp.Abi;

/// <summary>enum xenbus_state (io/xenbus.h): each end of a split device writes its own in its "state" node.</summary>
public enum XenbusState
{
    Unknown = 0,
    Initialising = 1,
    InitWait = 2,
    Initialised = 3,
    Connected = 4,
    Closing = 5,
    Closed = 6,
    Reconfiguring = 7,
    Reconfigured = 8,
}
