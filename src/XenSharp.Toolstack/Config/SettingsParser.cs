namespace XenSharp.Toolstack.Config;

/// <summary>
/// The statement grammar of libxlu: <c>key = value</c> or <c>key += value</c>, each ended by a newline, a ';' or
/// the end of the file; values are strings, numbers or bracketed lists in which newlines and comments may appear
/// and a trailing comma is allowed. Later settings replace earlier ones, as xl's lookup finds the newest.
/// </summary>
internal sealed class SettingsParser
{
    private readonly ConfigLexer lexer;
    private readonly string file;
    private readonly Dictionary<string, ConfigValue> settings = new(StringComparer.Ordinal);

    private SettingsParser(string text, string file)
    {
        lexer = new ConfigLexer(text, file);
        this.file = file;
    }

    public static Dictionary<string, ConfigValue> Parse(string text, string file)
    {
        var parser = new SettingsParser(text, file);
        parser.ParseFile();
        return parser.settings;
    }

    private void ParseFile()
    {
        while (true)
        {
            Token token = lexer.Next();
            switch (token.Kind)
            {
                case TokenKind.End:
                    return;
                case TokenKind.Newline or TokenKind.Semicolon:
                    continue;
                case TokenKind.Identifier:
                    ParseSetting(token.Text);
                    break;
                default:
                    throw Error(token, $"expected a setting name, got {token.Describe()}");
            }
        }
    }

    private void ParseSetting(string key)
    {
        Token op = lexer.Next();
        if (op.Kind is not (TokenKind.Assign or TokenKind.Append))
            throw Error(op, $"expected '=' after {ConfigText.SingleQuoted(key)}");

        ConfigValue value = ParseValue(key, lexer.Next(), inList: false);

        Token end = lexer.Next();
        if (end.Kind is not (TokenKind.Newline or TokenKind.Semicolon or TokenKind.End))
            throw Error(end, $"expected end of line or ';' after the value of {ConfigText.SingleQuoted(key)}, got {end.Describe()}");

        settings[key] = op.Kind == TokenKind.Append && settings.TryGetValue(key, out var previous)
            ? Append(key, previous, value)
            : value;
    }

    private ConfigValue ParseValue(string key, Token token, bool inList) => token.Kind switch
    {
        TokenKind.String => new ConfigString(token.Text, token.Line),
        TokenKind.Number => Number(token),
        TokenKind.OpenList => ParseList(key, token),
        _ => throw Error(token, inList
            ? $"expected a value or ']' in the list for {ConfigText.SingleQuoted(key)}, got {token.Describe()}"
            : $"expected a value for {ConfigText.SingleQuoted(key)}, got {token.Describe()}"),
    };

    private ConfigList ParseList(string key, Token open)
    {
        var items = new List<ConfigValue>();
        while (true)
        {
            Token token = NextInList(key, open);
            if (token.Kind == TokenKind.CloseList)
                break;
            items.Add(ParseValue(key, token, inList: true));

            Token after = NextInList(key, open);
            if (after.Kind == TokenKind.CloseList)
                break;
            if (after.Kind != TokenKind.Comma)
                throw Error(after, $"expected ',' or ']' in the list for {ConfigText.SingleQuoted(key)}, got {after.Describe()}");
        }
        return new ConfigList(items.AsReadOnly(), open.Line);
    }

    // Reporting the '[' line points at the list the user forgot to close, not at the end of the file.
    private Token NextInList(string key, Token open)
    {
        Token token;
        do
            token = lexer.Next();
        while (token.Kind == TokenKind.Newline);
        if (token.Kind == TokenKind.End)
            throw Error(open, $"unterminated list for {ConfigText.SingleQuoted(key)} (missing ']')");
        return token;
    }

    private ConfigNumber Number(Token token)
    {
        switch (XlNumber.Parse(token.Text, out long value))
        {
            case NumberParse.Ok:
                return new ConfigNumber(value, token.Line) { Text = token.Text };
            case NumberParse.OutOfRange:
                throw Error(token, $"number {token.Describe()} does not fit in 64 bits");
            default:
                throw Error(token, $"invalid number {token.Describe()}");
        }
    }

    // xl's += joins strings and lists; a number cannot grow because xl refuses += on anything it reads as a number.
    private ConfigValue Append(string key, ConfigValue previous, ConfigValue addition)
    {
        string name = ConfigText.SingleQuoted(key);
        return (previous, addition) switch
        {
            (ConfigString p, ConfigString a) => new ConfigString(p.Value + a.Value, a.Line),
            (ConfigString p, ConfigNumber a) => new ConfigString(p.Value + a.Text, a.Line),
            (ConfigList p, ConfigList a) => new ConfigList(p.Items.Concat(a.Items).ToList().AsReadOnly(), a.Line),
            (ConfigNumber, _) => throw new ConfigException(file, addition.Line, $"cannot use '+=' on {name}, which is a number"),
            _ => throw new ConfigException(file, addition.Line, $"cannot use '+=' to add a list to a string or a string to a list for {name}"),
        };
    }

    private ConfigException Error(Token token, string detail) => new(file, token.Line, detail);
}
