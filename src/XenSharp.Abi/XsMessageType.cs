namespace XenSharp.Abi;

/// <summary>enum xsd_sockmsg_type (io/xs_wire.h): the type field of a xenstore message.</summary>
public enum XsMessageType : uint
{
    Control = 0,
    Directory = 1,
    Read = 2,
    GetPerms = 3,
    Watch = 4,
    Unwatch = 5,
    TransactionStart = 6,
    TransactionEnd = 7,
    Introduce = 8,
    Release = 9,
    GetDomainPath = 10,
    Write = 11,
    Mkdir = 12,
    Rm = 13,
    SetPerms = 14,
    WatchEvent = 15,
    Error = 16,
    IsDomainIntroduced = 17,
    Resume = 18,
    SetTarget = 19,

    // 20 was XS_RESTRICT, removed.
    ResetWatches = 21,
    DirectoryPart = 22,
    GetFeature = 23,
    SetFeature = 24,
    GetQuota = 25,
    SetQuota = 26,

    /// <summary>XS_TYPE_COUNT.</summary>
    TypeCount = 27,
    Invalid = 0xffff,
}
