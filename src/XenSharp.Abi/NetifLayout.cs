namespace XenSharp.Abi;

/// <summary>
/// The netif shared rings (io/netif.h over io/ring.h) on one 4 KiB page each: the ring header (req_prod, req_event,
/// rsp_prod, rsp_event, then padding to 64 bytes), then the slots. A tx slot is 12 bytes (the request; a response uses
/// its first 4), an rx slot 8; both rings round down to a power of two of slots: 256. Offsets are little-endian fields.
/// </summary>
public static class NetifLayout
{
    public const int PageSize = 4096;

    // struct netif_{tx,rx}_sring header
    public const int ReqProd = 0;
    public const int ReqEvent = 4;
    public const int RspProd = 8;
    public const int RspEvent = 12;
    public const int RingStart = 64;

    public const int TxSlotSize = 12;
    public const int RxSlotSize = 8;

    /// <summary>NET_TX_RING_SIZE for one page: (4096 − 64) / 12 = 336, rounded down to a power of two.</summary>
    public const int TxRingSize = 256;

    /// <summary>NET_RX_RING_SIZE for one page: (4096 − 64) / 8 = 504, rounded down to a power of two.</summary>
    public const int RxRingSize = 256;

    // struct netif_tx_request (12 bytes)
    public const int TxReqGref = 0;
    public const int TxReqOffset = 4;
    public const int TxReqFlags = 6;
    public const int TxReqId = 8;
    public const int TxReqSize = 10;

    // struct netif_tx_response (4 bytes used of the slot)
    public const int TxRspId = 0;
    public const int TxRspStatus = 2;

    // struct netif_rx_request (8 bytes)
    public const int RxReqId = 0;
    public const int RxReqGref = 4;

    // struct netif_rx_response (8 bytes)
    public const int RxRspId = 0;
    public const int RxRspOffset = 2;
    public const int RxRspFlags = 4;
    public const int RxRspStatus = 6;

    // struct netif_extra_info (8 bytes; overlays a tx request or an rx response)
    public const int ExtraType = 0;
    public const int ExtraFlags = 1;
    public const int ExtraGsoSize = 2;
    public const int ExtraGsoType = 4;
    public const int ExtraGsoFeatures = 6;
    public const int ExtraMcastAddr = 2;

    /// <summary>XEN_NETIF_NR_SLOTS_MIN: the slots a packet may use that every backend must accept.</summary>
    public const int NrSlotsMin = 18;

    /// <summary>XEN_NETIF_MAX_TX_SIZE: the largest packet (the first slot's size is a u16).</summary>
    public const int MaxTxSize = 0xFFFF;

    // NETIF_RSP_*
    public const short RspDropped = -2;
    public const short RspError = -1;
    public const short RspOkay = 0;
    public const short RspNull = 1;

    /// <summary>Offset of tx slot <paramref name="index"/> (a free-running ring index) in the tx ring page.</summary>
    public static int TxSlot(uint index) => RingStart + ((int)(index & (TxRingSize - 1)) * TxSlotSize);

    /// <summary>Offset of rx slot <paramref name="index"/> (a free-running ring index) in the rx ring page.</summary>
    public static int RxSlot(uint index) => RingStart + ((int)(index & (RxRingSize - 1)) * RxSlotSize);
}
