namespace XenSharp.Abi;

/// <summary>Offsets in the x86-64 start_info page (xen/include/public/xen.h, struct start_info).</summary>
public static class StartInfoLayout
{
    public const string Magic64 = "xen-3.0-x86_64";
    public const int MagicOffset = 0;
    public const int MagicSize = 32;
    public const int NrPages = 32;
    public const int SharedInfo = 40;
    public const int Flags = 48;
    public const int StoreMfn = 56;
    public const int StoreEvtchn = 64;
    public const int ConsoleMfn = 72;
    public const int ConsoleEvtchn = 80;
    public const int PtBase = 88;
    public const int NrPtFrames = 96;
    public const int MfnList = 104;
    public const int ModStart = 112;
    public const int ModLen = 120;
    public const int CmdLine = 128;
    public const int CmdLineSize = 1024;
    public const int FirstP2mPfn = 1152;
    public const int NrP2mFrames = 1160;
    public const int Size = 1168;

    public const uint SifPrivileged = 1u << 0;
    public const uint SifInitDomain = 1u << 1;
    public const uint SifModStartPfn = 1u << 3;
}
