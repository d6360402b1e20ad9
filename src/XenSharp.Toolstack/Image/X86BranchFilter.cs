namespace XenSharp.Toolstack.Image;

/// <summary>
/// The xz x86 BCJ filter (filter ID 0x04), which Linux's <c>xz_wrap.sh</c> puts before LZMA2 so that calls and jumps
/// compress better: the encoder turned the rel32 of each E8 (call) / E9 (jmp) whose top byte is 00 or FF into an
/// absolute target; decoding turns it back. This runs over a whole block's output at once, so no instruction straddles
/// two calls (SharpCompress's own filter converts each read separately and corrupts such instructions). Positions count
/// from the start of the block, as xz's default start offset 0 does; the last 4 bytes are never converted.
/// </summary>
internal static class X86BranchFilter
{
    private static ReadOnlySpan<bool> AllowedByMask => [true, true, true, false, true, false, false, false];

    private static ReadOnlySpan<byte> BitNumberByMask => [0, 1, 2, 2, 3, 3, 3, 3];

    public static void Decode(Span<byte> data) => Convert(data, encode: false);

    /// <summary>The inverse of <see cref="Decode"/> (what xz's encoder does), for tests.</summary>
    public static void Encode(Span<byte> data) => Convert(data, encode: true);

    private static void Convert(Span<byte> data, bool encode)
    {
        if (data.Length < 5)
        {
            return;
        }

        uint prevMask = 0;
        int prevPos = -5;
        int limit = data.Length - 5;
        int i = 0;
        while (i <= limit)
        {
            byte b = data[i];
            if (b != 0xE8 && b != 0xE9)
            {
                i++;
                continue;
            }

            int distance = i - prevPos;
            prevPos = i;
            if (distance > 5)
            {
                prevMask = 0;
            }
            else
            {
                for (int k = 0; k < distance; k++)
                {
                    prevMask = (prevMask & 0x77) << 1;
                }
            }

            b = data[i + 4];
            if (IsTopByte(b) && AllowedByMask[(int)((prevMask >> 1) & 7)] && (prevMask >> 1) < 0x10)
            {
                uint src = (uint)b << 24 | (uint)data[i + 3] << 16 | (uint)data[i + 2] << 8 | data[i + 1];
                uint dest;
                while (true)
                {
                    uint here = unchecked((uint)i + 5);
                    dest = encode ? unchecked(src + here) : unchecked(src - here);
                    if (prevMask == 0)
                    {
                        break;
                    }

                    int bit = BitNumberByMask[(int)(prevMask >> 1)];
                    if (!IsTopByte((byte)(dest >> (24 - bit * 8))))
                    {
                        break;
                    }

                    src = dest ^ ((1u << (32 - bit * 8)) - 1);
                }

                data[i + 4] = (byte)~(((dest >> 24) & 1) - 1);
                data[i + 3] = (byte)(dest >> 16);
                data[i + 2] = (byte)(dest >> 8);
                data[i + 1] = (byte)dest;
                i += 5;
                prevMask = 0;
            }
            else
            {
                i++;
                prevMask |= 1;
                if (IsTopByte(b))
                {
                    prevMask |= 0x10;
                }
            }
        }
    }

    private static bool IsTopByte(byte b) => b is 0 or 0xFF;
}
