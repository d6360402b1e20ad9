namespace XenSharp.Backends.Net;

/// <summary>A TCP/UDP port or an inclusive range of them.</summary>
public readonly record struct VfrPortRange(ushort First, ushort Last)
{
    public VfrPortRange(ushort port)
        : this(port, port)
    {
    }

    public bool Contains(ushort port) => port >= First && port <= Last;
}
