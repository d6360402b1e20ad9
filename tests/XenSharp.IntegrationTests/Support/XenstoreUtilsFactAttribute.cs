using Xunit;

namespace XenSharp.IntegrationTests.Support;

/// <summary>A fact that runs Debian's xenstore-* tools: skipped, saying why, where they are not installed.</summary>
public sealed class XenstoreUtilsFactAttribute : FactAttribute
{
    public XenstoreUtilsFactAttribute()
    {
        if (!XenstoreUtils.Present)
        {
            Skip = XenstoreUtils.SkipReason;
        }
    }
}
