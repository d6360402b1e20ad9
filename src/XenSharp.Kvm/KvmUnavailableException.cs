namespace XenSharp.Kvm;

/// <summary>This host cannot give us KVM at all (no device, no permission, wrong API); nothing to retry.</summary>
public sealed class KvmUnavailableException : Exception
{
    public KvmUnavailableException(string message)
        : base(message)
    {
    }
}
