namespace XenSharp.Backends.Net;

/// <summary>Which packets of a VIF a rule looks at: those the VIF sends, those switched to it, or both.</summary>
[Flags]
public enum VfrDirection
{
    FromVif = 1,
    ToVif = 2,
    Both = FromVif | ToVif,
}
