namespace XenSharp.Toolstack.Config;

internal enum TokenKind
{
    Identifier,
    Number,
    String,
    Assign,
    Append,
    OpenList,
    CloseList,
    Comma,
    Semicolon,
    Newline,
    End,
}
