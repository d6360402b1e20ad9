namespace XenSharp.Toolstack.Config;

internal enum NumberParse
{
    Ok,
    Invalid,
    OutOfRange,
}
