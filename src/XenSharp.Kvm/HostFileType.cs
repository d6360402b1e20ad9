namespace XenSharp.Kvm;

/// <summary>What a host path names, from lstat's file type: what .NET's file APIs do not tell apart.</summary>
public enum HostFileType
{
    /// <summary>Nothing exists at the path.</summary>
    None,

    Regular,
    Directory,
    SymbolicLink,
    Socket,
    Fifo,
    CharacterDevice,
    BlockDevice,
}
