namespace XenSharp.Hypervisor.Stub;

/// <summary>A port access the stub answers (<see cref="StubPortIo"/>): direction, width in bytes, port, instruction length.</summary>
internal readonly record struct StubPortAccess(bool Input, int Size, uint Port, int Length);
