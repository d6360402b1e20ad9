namespace XenSharp.Tests.Emulation;

/// <summary>Counts what a hot path allocates on the calling thread, the way FifoDeliveryTests.RaisingAllocatesNothing does.</summary>
internal static class Allocations
{
    /// <summary>
    /// The fewest bytes allocated by 1000 runs of <paramref name="body"/> in one round, over up to 20 rounds (the first
    /// not counted: it compiles and fills per-thread caches). A round may see the runtime's own allocations while tiered
    /// compilation replaces the code under it; allocation on the path itself would show in every round.
    /// </summary>
    public static long LeastPer1000(Action body)
    {
        long least = long.MaxValue;
        for (int round = 0; round < 20 && least != 0; round++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < 1000; i++)
            {
                body();
            }

            long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            least = round == 0 ? long.MaxValue : Math.Min(least, allocated);
        }

        return least;
    }
}
