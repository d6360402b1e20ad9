using Xunit;

namespace XenSharp.Tests.Kvm;

/// <summary>A fact that needs a real /dev/kvm; skipped, with the reason, on hosts without one.</summary>
public sealed class KvmFactAttribute : FactAttribute
{
    public KvmFactAttribute()
    {
        if (!File.Exists("/dev/kvm"))
        {
            Skip = "no /dev/kvm on this host";
        }
    }
}
