using System.Security.Cryptography;

namespace XenSharp.Toolstack.Store;

/// <summary>
/// A VIF's MAC address: the one the config gives, else one as libxl makes it (libxl__device_nic_setdefault): Xen's
/// OUI 00:16:3e, then three random bytes with the top bit of the first clear. Written as xl writes it, lower-case hex
/// pairs joined by colons.
/// </summary>
public static class VifMac
{
    public static byte[] Generate()
    {
        Span<byte> r = stackalloc byte[3];
        RandomNumberGenerator.Fill(r);
        return [0x00, 0x16, 0x3e, (byte)(r[0] & 0x7f), r[1], r[2]];
    }

    public static string Format(byte[] mac) => string.Join(':', mac.Select(b => b.ToString("x2", System.Globalization.CultureInfo.InvariantCulture)));
}
