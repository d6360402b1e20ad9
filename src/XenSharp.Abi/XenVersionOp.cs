namespace XenSharp.Abi;

/// <summary>xen_version sub-operations (xen/include/public/version.h).</summary>
public static class XenVersionOp
{
    public const int Version = 0;
    public const int ExtraVersion = 1;
    public const int CompileInfo = 2;
    public const int Capabilities = 3;
    public const int Changeset = 4;
    public const int PlatformParameters = 5;
    public const int GetFeatures = 6;
    public const int PageSize = 7;
    public const int GuestHandle = 8;
    public const int CommandLine = 9;
    public const int BuildId = 10;

    public const int ExtraVersionSize = 16;
    public const int CompileInfoSize = 144;
    public const int CapabilitiesSize = 1024;
    public const int ChangesetSize = 64;
    public const int GuestHandleSize = 16;
}
