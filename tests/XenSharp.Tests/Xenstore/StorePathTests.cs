using XenSharp.Backends.Xenstore;
using Xunit;

namespace XenSharp.Tests.Xenstore;

/// <summary>Node names, xenstored's is_child, permission strings and the C number parsers the wire relies on.</summary>
public class StorePathTests
{
    [Theory]
    [InlineData("/", "/")]
    [InlineData("/local/domain/3/data", "/local/domain/3/data")]
    [InlineData("data/x", "/local/domain/3/data/x")]
    [InlineData("a-b_c@D9", "/local/domain/3/a-b_c@D9")]
    [InlineData("", null)]
    [InlineData("/a/", null)]
    [InlineData("/a//b", null)]
    [InlineData("a/", null)]
    [InlineData("/a b", null)]
    [InlineData("/a.b", null)]
    [InlineData("/a\u00e9", null)]
    [InlineData("@releaseDomain", null)]
    public void CanonicalizeFollowsTheNameRules(string path, string? expected) =>
        Assert.Equal(expected, StorePath.Canonicalize(path, "/local/domain/3", allowSpecial: false, pathMax: 0));

    [Fact]
    public void SpecialNamesOnlyWhereAllowedAndLengthsAreBounded()
    {
        Assert.Equal("@releaseDomain/4", StorePath.Canonicalize("@releaseDomain/4", "/h", allowSpecial: true, pathMax: 0));
        Assert.NotNull(StorePath.Canonicalize("/" + new string('a', 3071), "/h", false, 0));
        Assert.Null(StorePath.Canonicalize("/" + new string('a', 3072), "/h", false, 0));

        // path-max counts below /local/domain/<id>/ only, and is reached at its value (xenstored's ">=").
        string rel = new string('a', 2047);
        Assert.NotNull(StorePath.Canonicalize(rel, "/local/domain/3", false, 2048));
        Assert.Null(StorePath.Canonicalize(rel + "a", "/local/domain/3", false, 2048));
        Assert.Null(StorePath.Canonicalize("/" + new string('a', 2047), "/local/domain/3", false, 2048));
        Assert.NotNull(StorePath.Canonicalize("/local/domain/12345/" + rel, "/h", false, 2048));
        Assert.Null(StorePath.Canonicalize("/local/domain/123456/" + rel, "/h", false, 2048)); // no 6-digit domain ids
    }

    [Theory]
    [InlineData("/a/b", "/a")]
    [InlineData("/a", "/")]
    [InlineData("/", "/")]
    [InlineData("@releaseDomain", "/")]
    public void ParentIsEverythingBeforeTheLastSlash(string name, string parent) => Assert.Equal(parent, StorePath.Parent(name));

    [Theory]
    [InlineData("/a", "/a", -1, true)]
    [InlineData("/a/b/c", "/a", -1, true)]
    [InlineData("/ab", "/a", -1, false)]
    [InlineData("/a", "/a/b", -1, false)]
    [InlineData("/anything", "/", -1, true)]
    [InlineData("/a", "/a", 0, true)]
    [InlineData("/a/b", "/a", 0, false)]
    [InlineData("/a/b", "/a", 1, true)]
    [InlineData("/a/b/c", "/a", 1, false)]
    [InlineData("/a/b/c", "/a", 2, true)]
    [InlineData("/a", "/", 1, true)]
    [InlineData("/a/b", "/", 1, false)]
    [InlineData("@releaseDomain/3", "@releaseDomain", 1, true)]
    [InlineData("@releaseDomain", "/", -1, false)]
    public void IsChildHonoursDepth(string child, string parent, int depth, bool expected) =>
        Assert.Equal(expected, StorePath.IsChild(child, parent, depth));

    [Theory]
    [InlineData("r5", 5u, XsAccess.Read)]
    [InlineData("w0", 0u, XsAccess.Write)]
    [InlineData("b0x10", 16u, XsAccess.Both)]
    [InlineData("n010", 8u, XsAccess.None)]
    [InlineData("r-1", uint.MaxValue, XsAccess.Read)]
    [InlineData("r 7", 7u, XsAccess.Read)]
    public void PermissionsParseAsStrtolBaseZero(string text, uint domid, XsAccess access)
    {
        Assert.True(XsPermission.TryParse(text, out XsPermission p));
        Assert.Equal(new XsPermission(domid, access), p);
    }

    [Theory]
    [InlineData("")]
    [InlineData("r")]
    [InlineData("x1")]
    [InlineData("r1x")]
    [InlineData("r08")]
    [InlineData("R1")]
    public void BadPermissionsDoNotParse(string text) => Assert.False(XsPermission.TryParse(text, out _));

    [Fact]
    public void PermissionsPrintAsXenstoredDoes()
    {
        Assert.Equal("b3", XsPermission.Both(3).ToString());
        Assert.Equal("n0", XsPermission.None(0).ToString());
        Assert.Equal("r-1", new XsPermission(uint.MaxValue, XsAccess.Read | XsAccess.Ignore).ToString());
    }

    [Theory]
    [InlineData("0", true, 0u)]
    [InlineData("", true, 0u)]
    [InlineData("65535", true, 65535u)]
    [InlineData("65536", false, 0u)]
    [InlineData("-1", false, 0u)]
    [InlineData("1x", false, 0u)]
    [InlineData(" 12", true, 12u)]
    public void DomainIdsParseAsXenstoredsParseDomid(string text, bool ok, uint domid)
    {
        Assert.Equal(ok, CNumber.TryParseDomid(text, out uint d));
        if (ok)
        {
            Assert.Equal(domid, d);
        }
    }

    [Theory]
    [InlineData("12", 12)]
    [InlineData("  -3x", -3)]
    [InlineData("abc", 0)]
    [InlineData("", 0)]
    [InlineData("+7", 7)]
    public void AtoiStopsAtTheFirstNonDigit(string text, int value) => Assert.Equal(value, CNumber.Atoi(text));
}
