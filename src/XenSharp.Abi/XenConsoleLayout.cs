namespace XenSharp.Abi;

/// <summary>struct xencons_interface (io/console.h): the PV console ring page.</summary>
public static class XenConsoleLayout
{
    public const int In = 0;
    public const int InSize = 1024;
    public const int Out = 1024;
    public const int OutSize = 2048;
    public const int InCons = 3072;
    public const int InProd = 3076;
    public const int OutCons = 3080;
    public const int OutProd = 3084;
    public const int Connection = 3088;
    public const byte Disconnected = 1;
}
