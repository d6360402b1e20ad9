using XenSharp.Abi;
using XenSharp.Backends.Block;
using Xunit;
using static XenSharp.Abi.BlkifLayout;
using static XenSharp.Tests.Block.FakeBlockFrontend;

namespace XenSharp.Tests.Block;

/// <summary>access=ro: the image is opened read-only and shared, offers no write features, and every write-like request is an error.</summary>
public sealed class ReadOnlyDiskTests : IDisposable
{
    private readonly FakeBlockFrontend _f = new(readOnly: true, contents: Enumerable.Repeat((byte)0x3c, 256 * 512).ToArray());

    public ReadOnlyDiskTests() => _f.Connect();

    public void Dispose() => _f.Dispose();

    [Fact]
    public void TheNodesSayReadOnly()
    {
        Assert.Equal(VdiskReadonly.ToString(System.Globalization.CultureInfo.InvariantCulture), _f.Node("info"));
        Assert.Equal(("0", "0", "0"), (_f.Node("feature-flush-cache"), _f.Node("feature-barrier"), _f.Node("feature-discard")));
    }

    [Fact]
    public void WritesFlushesAndDiscardsAreErrorsAndTheImageIsUntouched()
    {
        _f.DataPage(0).Fill(0);
        Assert.Equal(RspError, _f.Status(Request(OpWrite, 1, 0, (FirstDataRef, 0, 7))));
        Assert.Equal(RspError, _f.Status(Request(OpWriteBarrier, 2, 0, (FirstDataRef, 0, 7))));
        Assert.Equal(RspError, _f.Status(Request(OpFlushDiskCache, 3, 0)));
        Assert.Equal(RspError, _f.Status(Discard(4, 0, 8)));
        Assert.Equal(RspError, _f.Status(Indirect(OpWrite, 5, 0, 1, FirstDataRef)));
        Assert.All(_f.ImageBytes(), b => Assert.Equal(0x3c, b));
        Assert.Equal(RspOkay, _f.Status(Request(OpRead, 6, 0, (FirstDataRef, 0, 0))));
        Assert.Equal(0x3c, _f.DataPage(0)[0]);
    }

    [Fact]
    public void SeveralDomainsMayShareAReadOnlyImageButNotAWritableOne()
    {
        using BlockImage second = BlockImage.Open(_f.ImagePath, readOnly: true);
        Assert.Equal(256, second.Sectors);
        Assert.ThrowsAny<IOException>(() => BlockImage.Open(_f.ImagePath, readOnly: false));
    }
}
