using XenSharp.Backends.Block;
using Xunit;
using static XenSharp.Abi.BlkifLayout;
using static XenSharp.Tests.Block.FakeBlockFrontend;

namespace XenSharp.Tests.Block;

/// <summary>blkback's statistics (xentop's VBD columns) after traffic through a fake frontend's ring.</summary>
public sealed class BlockCountersTests : IDisposable
{
    private readonly FakeBlockFrontend _f = new();

    public void Dispose() => _f.Dispose();

    [Fact]
    public void ReadsWritesAndTheirSectorsAreCounted_FlushesAndFailuresAsBlkbackCountsThem()
    {
        _f.Connect();
        _f.Submit(
            Request(OpWrite, 1, 0, (FirstDataRef, 0, 7), (FirstDataRef + 1, 0, 1)), // 10 sectors
            Request(OpRead, 2, 0, (FirstDataRef, 0, 3)), // 4
            Request(OpRead, 3, 8, (FirstDataRef, 0, 0)), // 1
            Request(OpFlushDiskCache, 4, 0),
            Request(OpWriteBarrier, 5, 20, (FirstDataRef, 0, 1)), // 2 written, counted as a flush
            Request(OpRead, 6, 1000, (FirstDataRef, 0, 7)), // past the end: counted, no sectors
            Discard(7, 0, 8));
        for (int i = 0; i < 2; i++)
        {
            Span<byte> segment = _f.DataPage(20).Slice(i * SegmentSize, SegmentSize);
            System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(segment[SegmentGref..], FirstDataRef + 1);
            segment[SegmentLastSect] = 0; // one sector each
        }

        Assert.Equal(RspOkay, _f.Status(Indirect(OpRead, 8, 0, 2, FirstDataRef + 20)));

        BlockCounters c = _f.Backend_.Counters;
        Assert.Equal((4L, 1L, 2L), (c.ReadRequests, c.WriteRequests, c.FlushRequests));
        Assert.Equal((7L, 12L), (c.ReadSectors, c.WriteSectors));
        Assert.Equal(0, c.OutOfRequests);
    }
}
