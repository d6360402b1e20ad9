namespace XenSharp.Toolstack.Config;

/// <summary>
/// Numbers the way xl reads them: strtol with base 0 over the whole text, so "0x80" is hex and "0200" is octal,
/// and quoted numbers may carry leading blanks and a sign. Bare literals use the same rules so "0200" means one
/// thing whether or not it is quoted.
/// </summary>
internal static class XlNumber
{
    public static NumberParse Parse(string text, out long value)
    {
        value = 0;
        int i = 0;
        while (i < text.Length && IsCSpace(text[i]))
            i++;

        bool negative = false;
        if (i < text.Length && (text[i] == '+' || text[i] == '-'))
            negative = text[i++] == '-';

        int radix = 10;
        if (i + 1 < text.Length && text[i] == '0' && (text[i + 1] == 'x' || text[i + 1] == 'X'))
        {
            radix = 16;
            i += 2;
        }
        else if (i + 1 < text.Length && text[i] == '0')
        {
            radix = 8;
            i++;
        }

        if (i == text.Length)
            return NumberParse.Invalid;

        ulong magnitude = 0;
        bool overflow = false;
        for (; i < text.Length; i++)
        {
            int digit = DigitValue(text[i]);
            if (digit < 0 || digit >= radix)
                return NumberParse.Invalid;
            if (magnitude > (ulong.MaxValue - (ulong)digit) / (ulong)radix)
                overflow = true;
            else
                magnitude = magnitude * (ulong)radix + (ulong)digit;
        }

        ulong limit = negative ? (ulong)long.MaxValue + 1 : long.MaxValue;
        if (overflow || magnitude > limit)
            return NumberParse.OutOfRange;
        value = unchecked(negative ? (long)(0 - magnitude) : (long)magnitude);
        return NumberParse.Ok;
    }

    private static bool IsCSpace(char c) => c is ' ' or '\t' or '\n' or '\v' or '\f' or '\r';

    private static int DigitValue(char c) => c switch
    {
        >= '0' and <= '9' => c - '0',
        >= 'a' and <= 'f' => c - 'a' + 10,
        >= 'A' and <= 'F' => c - 'A' + 10,
        _ => -1,
    };
}
