namespace XenSharp.Toolstack.Image;

/// <summary>
/// C strtoull(s, NULL, 0), which libelf uses for the numbers in the legacy <c>__xen_guest</c>
/// string: the same text must give the same address here as under Xen.
/// </summary>
internal static class CUnsignedNumber
{
    public static ulong Parse(string text)
    {
        int i = 0;
        while (i < text.Length && IsCSpace(text[i]))
            i++;

        bool negative = false;
        if (i < text.Length && (text[i] == '+' || text[i] == '-'))
        {
            negative = text[i] == '-';
            i++;
        }

        uint numberBase = 10;
        if (i < text.Length && text[i] == '0')
        {
            // "0x" only counts as a prefix when a hex digit follows; otherwise strtoull reads the
            // lone "0" and stops at the 'x'.
            if (i + 2 < text.Length && (text[i + 1] == 'x' || text[i + 1] == 'X') && DigitValue(text[i + 2]) < 16)
            {
                numberBase = 16;
                i += 2;
            }
            else
            {
                numberBase = 8;
            }
        }

        ulong value = 0;
        bool overflow = false;
        for (; i < text.Length; i++)
        {
            uint digit = DigitValue(text[i]);
            if (digit >= numberBase)
                break;
            if (value > (ulong.MaxValue - digit) / numberBase)
                overflow = true;
            else
                value = value * numberBase + digit;
        }

        // On overflow strtoull returns ULLONG_MAX whatever the sign; otherwise '-' negates
        // modulo 2^64.
        if (overflow)
            return ulong.MaxValue;
        return negative ? unchecked(0 - value) : value;
    }

    private static bool IsCSpace(char c) => c is ' ' or '\t' or '\n' or '\v' or '\f' or '\r';

    private static uint DigitValue(char c) => c switch
    {
        >= '0' and <= '9' => (uint)(c - '0'),
        >= 'a' and <= 'z' => (uint)(c - 'a' + 10),
        >= 'A' and <= 'Z' => (uint)(c - 'A' + 10),
        _ => uint.MaxValue,
    };
}
