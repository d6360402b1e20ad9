using System.Globalization;
using System.Text;

namespace XenSharp.Toolstack.Config;

/// <summary>
/// Splits xl config text into tokens, following libxlu's lexer: comments run to the end of the line and count as
/// a newline, strings never span lines, and a bad character is an error rather than something to skip.
/// </summary>
internal sealed class ConfigLexer
{
    private readonly string text;
    private readonly string file;
    private int pos;
    private int line = 1;

    public ConfigLexer(string text, string file)
    {
        // File.ReadAllText drops a BOM, but callers of Parse may hand us text decoded some other way.
        this.text = text.Length > 0 && text[0] == '\uFEFF' ? text[1..] : text;
        this.file = file;
    }

    public Token Next()
    {
        SkipBlanksAndComment();
        if (pos >= text.Length)
            return new Token(TokenKind.End, line, "");

        char c = text[pos];
        switch (c)
        {
            case '\n':
                pos++;
                return new Token(TokenKind.Newline, line++, "\n");
            case '=':
                return Punctuation(TokenKind.Assign, 1);
            case '+' when Peek(1) == '=':
                return Punctuation(TokenKind.Append, 2);
            case '[':
                return Punctuation(TokenKind.OpenList, 1);
            case ']':
                return Punctuation(TokenKind.CloseList, 1);
            case ',':
                return Punctuation(TokenKind.Comma, 1);
            case ';':
                return Punctuation(TokenKind.Semicolon, 1);
            case '"' or '\'':
                return QuotedString(c);
        }

        if (IsIdentifierStart(c))
            return Word(TokenKind.Identifier, IsIdentifierPart);
        // Letters and dots are swallowed too so "128M" or "1.5" is reported whole as a bad number, not as a
        // number followed by a puzzling stray character.
        if (c is >= '0' and <= '9')
            return Word(TokenKind.Number, ch => IsIdentifierPart(ch) || ch == '.');

        throw Error($"unexpected character {DescribeChar(c)}");
    }

    private void SkipBlanksAndComment()
    {
        // '\r' is a blank so CRLF files read the same as LF ones.
        while (pos < text.Length && text[pos] is ' ' or '\t' or '\r' or '\f' or '\v')
            pos++;
        if (pos < text.Length && text[pos] == '#')
        {
            while (pos < text.Length && text[pos] != '\n')
                pos++;
        }
    }

    private char Peek(int offset) => pos + offset < text.Length ? text[pos + offset] : '\0';

    private Token Punctuation(TokenKind kind, int length)
    {
        var token = new Token(kind, line, text.Substring(pos, length));
        pos += length;
        return token;
    }

    private Token Word(TokenKind kind, Func<char, bool> isPart)
    {
        int start = pos;
        while (pos < text.Length && isPart(text[pos]))
            pos++;
        return new Token(kind, line, text[start..pos]);
    }

    private Token QuotedString(char quote)
    {
        pos++;
        var value = new StringBuilder();
        while (true)
        {
            if (pos >= text.Length || text[pos] == '\n')
                throw Error("unterminated string");
            char c = text[pos++];
            if (c == quote)
                return new Token(TokenKind.String, line, value.ToString());
            if (c == '\\')
                value.Append(Escape());
            else
                value.Append(c);
        }
    }

    private char Escape()
    {
        if (pos >= text.Length || text[pos] == '\n')
            throw Error("unterminated string");
        char c = text[pos++];
        switch (c)
        {
            case '"' or '\'' or '\\': return c;
            case 'a': return '\a';
            case 'b': return '\b';
            case 'f': return '\f';
            case 'n': return '\n';
            case 'r': return '\r';
            case 't': return '\t';
            case 'v': return '\v';
            case 'x':
                if (!IsHexDigit(Peek(0)) || !IsHexDigit(Peek(1)))
                    throw Error(@"'\x' in a string must be followed by two hex digits");
                pos += 2;
                return (char)int.Parse(text.AsSpan(pos - 2, 2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture);
            case >= '0' and <= '7':
                int code = c - '0';
                for (int n = 1; n < 3 && Peek(0) is >= '0' and <= '7'; n++)
                    code = code * 8 + (text[pos++] - '0');
                if (code > 0xFF)
                    throw Error($"octal escape '\\{Convert.ToString(code, 8)}' in a string is larger than \\377");
                return (char)code;
            default:
                throw Error($"invalid escape '\\{Printable(c)}' in a string (write '\\\\' for a backslash)");
        }
    }

    private ConfigException Error(string detail) => new(file, line, detail);

    private static bool IsIdentifierStart(char c) => c is (>= 'a' and <= 'z') or (>= 'A' and <= 'Z') or '_';

    private static bool IsIdentifierPart(char c) => IsIdentifierStart(c) || c is >= '0' and <= '9';

    private static bool IsHexDigit(char c) => char.IsAsciiHexDigit(c);

    private static string DescribeChar(char c) => ConfigText.SingleQuoted(c.ToString());

    // Drops the quotes SingleQuoted adds so a control character can sit inside a message's own quoting.
    private static string Printable(char c) => DescribeChar(c)[1..^1];
}
