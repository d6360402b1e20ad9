namespace XenSharp.Backends.Net;

/// <summary>
/// What sits behind a VFR port (a VIF's netback, the TAP uplink, a test): <see cref="Deliver"/> takes a frame the VFR
/// switched to it. It is called on the sending port's thread with no VFR lock held, must not block nor throw, and
/// must bound what it keeps: it returns false (the VFR counts a drop) rather than queue without limit.
/// </summary>
public interface IVfrEndpoint
{
    bool Deliver(NetPacket packet);
}
