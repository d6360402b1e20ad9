namespace XenSharp.Toolstack.Config;

/// <summary>
/// One lexeme. <see cref="Text"/> is the decoded value for strings and the source text otherwise; numbers stay
/// text here so the parser can report a malformed one with its line.
/// </summary>
internal readonly record struct Token(TokenKind Kind, int Line, string Text)
{
    /// <summary>How to name this token in "got ..." messages.</summary>
    public string Describe() => Kind switch
    {
        TokenKind.Identifier or TokenKind.Number => ConfigText.SingleQuoted(Text),
        TokenKind.String => ConfigText.DoubleQuoted(Text),
        TokenKind.Assign => "'='",
        TokenKind.Append => "'+='",
        TokenKind.OpenList => "'['",
        TokenKind.CloseList => "']'",
        TokenKind.Comma => "','",
        TokenKind.Semicolon => "';'",
        TokenKind.Newline => "end of line",
        _ => "end of file",
    };
}
