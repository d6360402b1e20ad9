namespace XenSharp.Abi;

/// <summary>
/// struct xenstore_domain_interface (io/xs_wire.h, docs/misc/xenstore-ring.txt): the xenstore ring page shared by a
/// guest and xenstored, and the limits of the wire protocol. Indexes are free-running u32s; byte x of a stream lives at
/// x mod <see cref="RingSize"/>.
/// </summary>
public static class XenstoreLayout
{
    public const int RingSize = 1024;

    /// <summary>req[1024]: requests, guest to xenstored.</summary>
    public const int Req = 0;

    /// <summary>rsp[1024]: replies and watch events, xenstored to guest.</summary>
    public const int Rsp = 1024;

    public const int ReqCons = 2048;
    public const int ReqProd = 2052;
    public const int RspCons = 2056;
    public const int RspProd = 2060;
    public const int ServerFeatures = 2064;
    public const int Connection = 2068;
    public const int Error = 2072;
    public const int EvtchnPort = 2076;

    /// <summary>struct xsd_sockmsg: type, req_id, tx_id, len (u32 each).</summary>
    public const int HeaderSize = 16;

    /// <summary>XENSTORE_PAYLOAD_MAX: a longer message kills the connection.</summary>
    public const int PayloadMax = 4096;

    /// <summary>XENSTORE_ABS_PATH_MAX.</summary>
    public const int AbsPathMax = 3072;

    /// <summary>XENSTORE_REL_PATH_MAX.</summary>
    public const int RelPathMax = 2048;

    public const uint FeatureReconnection = 1;
    public const uint FeatureError = 2;
    public const uint FeatureWatchDepth = 4;
    public const uint FeatureDomidAny = 8;

    public const uint Connected = 0;
    public const uint Reconnect = 1;

    public const uint ErrorNone = 0;
    public const uint ErrorComm = 1;
    public const uint ErrorRingIdx = 2;
    public const uint ErrorProto = 3;

    /// <summary>DOMID_ANY (xen.h): a permission entry for every domain.</summary>
    public const uint DomidAny = 0x7ff5;

    /// <summary>DOMID_SELF (xen.h).</summary>
    public const uint DomidSelf = 0x7ff0;
}
