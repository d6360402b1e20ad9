namespace XenSharp.Backends.Xenstore;

/// <summary>
/// The C library number parsers xenstored applies to wire strings (strtol, strtoul, atoi), reproduced so that odd
/// input gets the same answer as from xenstored. Input is treated as bytes (Latin-1 characters).
/// </summary>
internal static class CNumber
{
    /// <summary>strtol(s, &amp;end, 0) that must consume the whole, non-empty string. Overflow clamps as strtol does.</summary>
    public static bool TryStrtol(ReadOnlySpan<char> s, out long value)
    {
        value = 0;
        if (s.IsEmpty)
        {
            return false;
        }

        int end = ParseInteger(s, 0, out value, signedClamp: true);
        return end == s.Length;
    }

    /// <summary>
    /// xenstored's parse_domid: strtoul base 10; any trailing character or a value above 65535 is an error. An empty
    /// string is domain 0 (strtoul reads nothing and stops at the terminator).
    /// </summary>
    public static bool TryParseDomid(string s, out uint domid)
    {
        domid = 0;
        int end = ParseInteger(s, 10, out long v, signedClamp: false);
        if (end == 0)
        {
            // No digits: strtoul leaves end at the start of the string.
            return s.Length == 0;
        }

        if (end != s.Length || v < 0 || v > 65535)
        {
            return false;
        }

        domid = (uint)v;
        return true;
    }

    /// <summary>atoi: leading white space, a sign, decimal digits; anything else stops it; no digits is 0.</summary>
    public static int Atoi(string s)
    {
        ParseInteger(s, 10, out long v, signedClamp: true);
        return unchecked((int)v);
    }

    /// <summary>
    /// The strtol/strtoul scanner: returns the index just past the number, or 0 when there are no digits (end = start).
    /// Base 0 picks 16 after "0x", 8 after a leading "0", else 10.
    /// </summary>
    private static int ParseInteger(ReadOnlySpan<char> s, int numberBase, out long value, bool signedClamp)
    {
        value = 0;
        int i = 0;
        while (i < s.Length && IsSpace(s[i]))
        {
            i++;
        }

        bool negative = false;
        if (i < s.Length && (s[i] == '+' || s[i] == '-'))
        {
            negative = s[i] == '-';
            i++;
        }

        if ((numberBase == 0 || numberBase == 16) && i + 1 < s.Length && s[i] == '0' && (s[i + 1] == 'x' || s[i + 1] == 'X')
            && i + 2 < s.Length && Digit(s[i + 2], 16) >= 0)
        {
            numberBase = 16;
            i += 2;
        }
        else if (numberBase == 0)
        {
            numberBase = i < s.Length && s[i] == '0' ? 8 : 10;
        }

        int start = i;
        ulong magnitude = 0;
        bool overflow = false;
        while (i < s.Length && Digit(s[i], numberBase) is int d and >= 0)
        {
            ulong next = (magnitude * (ulong)numberBase) + (ulong)d;
            if (next / (ulong)numberBase != magnitude || next > long.MaxValue)
            {
                overflow = true;
            }

            magnitude = next;
            i++;
        }

        if (i == start)
        {
            return 0;
        }

        if (overflow)
        {
            value = signedClamp ? (negative ? long.MinValue : long.MaxValue) : -1;
        }
        else
        {
            value = negative ? -(long)magnitude : (long)magnitude;
        }

        return i;
    }

    private static bool IsSpace(char c) => c is ' ' or '\t' or '\n' or '\v' or '\f' or '\r';

    private static int Digit(char c, int numberBase)
    {
        int d = c switch
        {
            >= '0' and <= '9' => c - '0',
            >= 'a' and <= 'z' => c - 'a' + 10,
            >= 'A' and <= 'Z' => c - 'A' + 10,
            _ => -1,
        };
        return d < numberBase ? d : -1;
    }
}
