using Xunit;

namespace XenSharp.Tests.Image;

/// <summary>A test that needs xz-utils' <c>xz</c> on PATH (Debian installs it by default); skipped where there is none, installing nothing.</summary>
public sealed class HostXzFactAttribute : FactAttribute
{
    public HostXzFactAttribute()
    {
        if (Path() is null)
            Skip = "no xz on PATH (xz-utils)";
    }

    public static string? Path() =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => System.IO.Path.Combine(dir, "xz"))
            .FirstOrDefault(File.Exists);
}
