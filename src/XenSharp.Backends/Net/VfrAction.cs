namespace XenSharp.Backends.Net;

/// <summary>What a matching VFR rule does with a packet.</summary>
public enum VfrAction
{
    Allow,
    Deny,
}
