using System.Runtime.InteropServices;

namespace XenSharp.Bench;

/// <summary>getppid() called from .NET: the native baseline plus the P/Invoke transition. Informative, next to the C
/// figure. (The bench is not product code; the product's only P/Invoke stays in XenSharp.Kvm.)</summary>
public static partial class PInvokeGetppid
{
    public static double Seconds(int n)
    {
        _ = GetPpid();
        long t0 = Clock.Now;
        for (int i = 0; i < n; i++)
        {
            _ = GetPpid();
        }

        return Clock.Seconds(t0, Clock.Now) / n;
    }

    [LibraryImport("libc", EntryPoint = "getppid")]
    private static partial int GetPpid();
}
