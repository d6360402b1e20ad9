namespace XenSharp.Backends.Xenstore;

/// <summary>
/// A guest's xenstore ring page as the store reaches it. Touch <see cref="Bytes"/> only while holding <see cref="Lock"/>
/// and after <see cref="IsPresent"/> said yes: the page may stop being the guest's (given back, domain destroyed).
/// </summary>
public interface IStorePage
{
    object Lock { get; }

    bool IsPresent { get; }

    Span<byte> Bytes { get; }
}
