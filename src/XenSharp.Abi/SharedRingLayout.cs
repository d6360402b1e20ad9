namespace XenSharp.Abi;

/// <summary>
/// The shared ring of io/ring.h (DEFINE_RING_TYPES): a 64-byte header of free-running 32-bit indices — req_prod,
/// req_event, rsp_prod, rsp_event, then padding — and the slots, each the size of the larger of request and response.
/// A slot is at index &amp; (size - 1); the size is the largest power of two of slots that fits the ring's pages.
/// </summary>
public static class SharedRingLayout
{
    public const int ReqProd = 0;
    public const int ReqEvent = 4;
    public const int RspProd = 8;
    public const int RspEvent = 12;
    public const int Slots = 64;

    /// <summary>__RING_SIZE: slots of <paramref name="slotSize"/> bytes in <paramref name="ringBytes"/>, rounded down to a power of two.</summary>
    public static uint Size(int ringBytes, int slotSize)
    {
        uint n = (uint)((ringBytes - Slots) / slotSize);
        return n == 0 ? 0 : 1u << (31 - System.Numerics.BitOperations.LeadingZeroCount(n));
    }
}
