using XenSharp.Tests.Block;

namespace XenSharp.Tests;

/// <summary>
/// The test assembly's entry point. The test host never calls it; a test that needs a process of its own to kill starts
/// `dotnet XenSharp.Tests.dll VERB ...` (BlockCrashTests: <see cref="BlockCrashChild.Verb"/>). Without a verb it does nothing.
/// </summary>
internal static class Program
{
    private static int Main(string[] args) => args switch
    {
        [BlockCrashChild.Verb, .. var rest] => BlockCrashChild.Run(rest),
        _ => 0,
    };
}
