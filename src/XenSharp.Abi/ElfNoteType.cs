namespace XenSharp.Abi;

/// <summary>XEN_ELFNOTE_* types (xen/include/public/elfnote.h).</summary>
public static class ElfNoteType
{
    public const int Info = 0;
    public const int Entry = 1;
    public const int HypercallPage = 2;
    public const int VirtBase = 3;
    public const int PaddrOffset = 4;
    public const int XenVersion = 5;
    public const int GuestOs = 6;
    public const int GuestVersion = 7;
    public const int Loader = 8;
    public const int PaeMode = 9;
    public const int Features = 10;
    public const int BsdSymtab = 11;
    public const int HvStartLow = 12;
    public const int L1MfnValid = 13;
    public const int SuspendCancel = 14;
    public const int InitP2m = 15;
    public const int ModStartPfn = 16;
    public const int SupportedFeatures = 17;
    public const int Phys32Entry = 18;
}
