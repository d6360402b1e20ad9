using System.Globalization;

namespace XenSharp.Backends.Net;

/// <summary>An IPv4 address and prefix length (10.0.0.0/8; a bare address is /32). The address is host order.</summary>
public readonly record struct Ipv4Prefix
{
    public Ipv4Prefix(uint address, int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(length, 32);
        Length = length;
        Address = address & Mask;
    }

    public uint Address { get; }

    public int Length { get; }

    private uint Mask => Length == 0 ? 0 : uint.MaxValue << (32 - Length);

    public bool Contains(uint address) => (address & Mask) == Address;

    /// <summary>Parses "a.b.c.d" or "a.b.c.d/n"; null if it is neither.</summary>
    public static Ipv4Prefix? TryParse(string text)
    {
        int slash = text.IndexOf('/', StringComparison.Ordinal);
        string addr = slash < 0 ? text : text[..slash];
        int length = 32;
        if (slash >= 0 && (!int.TryParse(text.AsSpan(slash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out length) || length > 32))
        {
            return null;
        }

        string[] parts = addr.Split('.');
        if (parts.Length != 4)
        {
            return null;
        }

        uint a = 0;
        foreach (string p in parts)
        {
            if (!byte.TryParse(p, NumberStyles.None, CultureInfo.InvariantCulture, out byte b))
            {
                return null;
            }

            a = (a << 8) | b;
        }

        return new Ipv4Prefix(a, length);
    }

    public static Ipv4Prefix Parse(string text) => TryParse(text) ?? throw new FormatException($"\"{text}\" is not an IPv4 address or prefix");

    public override string ToString() =>
        $"{Address >> 24}.{(Address >> 16) & 0xff}.{(Address >> 8) & 0xff}.{Address & 0xff}/{Length}";
}
