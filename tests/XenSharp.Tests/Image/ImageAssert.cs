using XenSharp.Toolstack.Image;
using Xunit;

namespace XenSharp.Tests.Image;

internal static class ImageAssert
{
    public const string Name = "test.elf";

    public static KernelImage Parses(ElfBuilder builder) => KernelImage.Parse(builder.Build().Bytes, Name);

    /// <summary>Parsing must fail with a one-line KernelImageException naming the image; returns the text after the name.</summary>
    public static string Fails(byte[] bytes)
    {
        var e = Assert.Throws<KernelImageException>(() => KernelImage.Parse(bytes, Name));
        Assert.StartsWith(Name + ": ", e.Message);
        Assert.DoesNotContain('\n', e.Message);
        return e.Message[(Name.Length + 2)..];
    }

    public static string Fails(ElfBuilder builder) => Fails(builder.Build().Bytes);
}
