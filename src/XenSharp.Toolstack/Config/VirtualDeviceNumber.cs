using System.Globalization;

namespace XenSharp.Toolstack.Config;

/// <summary>
/// Xen's virtual block device numbers (xen-vbd-interface(7)), as libxl computes them from a vdev name:
/// xvd&lt;letters&gt;[partition] and d&lt;disk&gt;p&lt;partition&gt; use major 202 (disk ≤ 15 and partition ≤ 15)
/// or else the extended form 1&lt;&lt;28 | disk&lt;&lt;8 | partition; hd[a-d] use the IDE majors 3 and 22 with up
/// to 63 partitions; sd[a-p] use SCSI major 8 with up to 15; a bare number is taken as the device number itself.
/// Disk letters count as in Linux (a = 0, z = 25, aa = 26).
/// </summary>
public static class VirtualDeviceNumber
{
    private const int MaxExtendedDisk = (1 << 20) - 1;

    /// <summary>The device number of <paramref name="vdev"/>, or null when libxl would not accept the name.</summary>
    public static int? Parse(string vdev)
    {
        if (DiskPartition(vdev, out int disk, out int partition) ?? Letters(vdev, "xvd", MaxExtendedDisk, 255, out disk, out partition))
        {
            return disk <= 15 && partition <= 15 ? (202 << 8) | (disk << 4) | partition : (1 << 28) | (disk << 8) | partition;
        }

        if (Number(vdev) is int number)
        {
            return number;
        }

        if (Letters(vdev, "hd", 3, 63, out disk, out partition))
        {
            return ((disk < 2 ? 3 : 22) << 8) | ((disk & 1) << 6) | partition;
        }

        if (Letters(vdev, "sd", 15, 15, out disk, out partition))
        {
            return (8 << 8) | (disk << 4) | partition;
        }

        return null;
    }

    // d<disk>p<partition>, decimal: null when the name does not have that shape at all.
    private static bool? DiskPartition(string vdev, out int disk, out int partition)
    {
        disk = partition = 0;
        int p = vdev.IndexOf('p', StringComparison.Ordinal);
        if (vdev.Length < 4 || vdev[0] != 'd' || p < 2 || !AllDigits(vdev.AsSpan(1, p - 1)) || !AllDigits(vdev.AsSpan(p + 1)))
        {
            return null;
        }

        return int.TryParse(vdev.AsSpan(1, p - 1), NumberStyles.None, CultureInfo.InvariantCulture, out disk)
            && int.TryParse(vdev.AsSpan(p + 1), NumberStyles.None, CultureInfo.InvariantCulture, out partition)
            && disk <= MaxExtendedDisk && partition < 256;
    }

    // <prefix><letters>[<partition without leading zero>], letters counted base 26 from a = 0.
    private static bool Letters(string vdev, string prefix, int maxDisk, int maxPartition, out int disk, out int partition)
    {
        disk = -1;
        partition = 0;
        if (!vdev.StartsWith(prefix, StringComparison.Ordinal))
        {
            return false;
        }

        int i = prefix.Length;
        for (; i < vdev.Length && vdev[i] is >= 'a' and <= 'z'; i++)
        {
            disk = ((disk + 1) * 26) + (vdev[i] - 'a');
            if (disk > maxDisk)
            {
                return false;
            }
        }

        if (disk < 0)
        {
            return false;
        }

        ReadOnlySpan<char> rest = vdev.AsSpan(i);
        if (rest.IsEmpty)
        {
            return true;
        }

        return rest[0] != '0' && AllDigits(rest)
            && int.TryParse(rest, NumberStyles.None, CultureInfo.InvariantCulture, out partition) && partition <= maxPartition;
    }

    // strtoul with base 0, as libxl reads a numeric vdev: decimal, 0x hex or 0 octal, at most INT_MAX.
    private static int? Number(string vdev)
    {
        ulong value;
        if (vdev.Length > 2 && vdev[0] == '0' && vdev[1] is 'x' or 'X')
        {
            if (!ulong.TryParse(vdev.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out value))
            {
                return null;
            }
        }
        else if (vdev.Length > 1 && vdev[0] == '0')
        {
            value = 0;
            foreach (char c in vdev.AsSpan(1))
            {
                if (c is < '0' or > '7' || value > int.MaxValue)
                {
                    return null;
                }

                value = (value * 8) + (ulong)(c - '0');
            }
        }
        else if (!AllDigits(vdev) || !ulong.TryParse(vdev, NumberStyles.None, CultureInfo.InvariantCulture, out value))
        {
            return null;
        }

        return vdev.Length > 0 && value <= int.MaxValue ? (int)value : null;
    }

    private static bool AllDigits(ReadOnlySpan<char> text)
    {
        foreach (char c in text)
        {
            if (!char.IsAsciiDigit(c))
            {
                return false;
            }
        }

        return !text.IsEmpty;
    }
}
