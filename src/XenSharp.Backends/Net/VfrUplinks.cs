namespace XenSharp.Backends.Net;

/// <summary>
/// The host's uplinks of one <see cref="Vfr"/>, by TAP interface name: a vif's `bridge=NAME` asks for one, and every
/// vif naming NAME shares it. <see cref="Ensure"/> opens TAP NAME in the calling thread's network namespace (creating
/// it if absent; the kernel removes an interface it created that way when the last descriptor closes — on
/// <see cref="Dispose"/> or when the process exits; a persistent TAP the host made, `ip tuntap add NAME mode tap`,
/// stays). Addresses and routes on the host side are the host's business.
/// An uplink no vif uses any more is not closed: like Xen's bridge it is the host's, not a domain's (the host's
/// addresses on it outlive a domain's reboot), and its owner (the run session's or daemon's DomainHost) disposes this
/// when it ends.
/// Invariant: at most one <see cref="TapUplink"/> per name, held until <see cref="Dispose"/>; a failed open leaves nothing.
/// </summary>
public sealed class VfrUplinks : IDisposable
{
    private readonly object _lock = new();
    private readonly Vfr _vfr;
    private readonly Func<string, TapDevice> _open;
    private readonly Dictionary<string, TapUplink> _uplinks = new(StringComparer.Ordinal);
    private bool _disposed;

    public VfrUplinks(Vfr vfr)
        : this(vfr, name => TapDevice.Open(name))
    {
    }

    /// <param name="open">Opens the TAP (tests: a namespace of their own).</param>
    public VfrUplinks(Vfr vfr, Func<string, TapDevice> open)
    {
        _vfr = vfr;
        _open = open;
    }

    /// <summary>The uplinks open now, by interface name.</summary>
    public IReadOnlyDictionary<string, TapUplink> Open
    {
        get
        {
            lock (_lock)
            {
                return new Dictionary<string, TapUplink>(_uplinks, StringComparer.Ordinal);
            }
        }
    }

    /// <summary>The uplink through TAP <paramref name="name"/>, opened (and the interface created) the first time.</summary>
    /// <exception cref="VfrUplinkException">The name is not an interface name, or the TAP cannot be opened; the message is one line.</exception>
    public TapUplink Ensure(string name)
    {
        if (name.Length is 0 or > 15 || name.Any(c => c is '/' or ':' or '%' or <= ' ' or > '~'))
        {
            throw new VfrUplinkException($"'{name}' is not an interface name (1 to 15 printable characters, none of / : % or space)");
        }

        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_uplinks.TryGetValue(name, out TapUplink? known))
            {
                return known;
            }

            TapDevice tap;
            try
            {
                tap = _open(name);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new VfrUplinkException($"cannot open TAP {name} for the VFR's uplink: {Why(name, e)}");
            }

            var uplink = new TapUplink(_vfr, tap, $"uplink {name}");
            _uplinks.Add(name, uplink);
            return uplink;
        }
    }

    public void Dispose()
    {
        TapUplink[] all;
        lock (_lock)
        {
            _disposed = true;
            all = _uplinks.Values.ToArray();
            _uplinks.Clear();
        }

        foreach (TapUplink u in all)
        {
            u.Dispose();
        }
    }

    // HostTap's messages name the errno ("TUNSETIFF xs0: EPERM (1)"); the usual causes get a sentence of their own.
    private static string Why(string name, Exception e) =>
        e is FileNotFoundException or DirectoryNotFoundException ? "no /dev/net/tun (load the tun module)"
        : e is UnauthorizedAccessException || e.Message.Contains("EPERM", StringComparison.Ordinal) || e.Message.Contains("EACCES", StringComparison.Ordinal)
            ? "not permitted: a TAP needs root or CAP_NET_ADMIN"
        : e.Message.Contains("EINVAL", StringComparison.Ordinal) ? $"{name} exists and is not a TAP (a bridge or another interface; XenSharp uplinks through a TAP)"
        : e.Message.Contains("EBUSY", StringComparison.Ordinal) ? $"{name} is in use by another process"
        : e.Message;
}
