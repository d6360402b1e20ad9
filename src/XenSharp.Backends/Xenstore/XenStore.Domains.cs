using System.Globalization;
using System.Text;
using XenSharp.Abi;

namespace XenSharp.Backends.Xenstore;

/// <summary>
/// Domain management and the administrative requests (domain.c, control.c). All but GET_DOMAIN_PATH, GET_FEATURE
/// without a domain id and RESET_WATCHES are for privileged callers; the dispatcher refuses the rest with EACCES.
/// </summary>
public sealed partial class XenStore
{
    private static readonly (string Name, string Parameters)[] ControlCommands =
    [
        ("check", ""),
        ("print", "<string>"),
        ("quota", ""),
        ("help", ""),
    ];

    private XsError DoGetDomainPath(XsRequest r)
    {
        if (r.OneArg() is not { } arg || !CNumber.TryParseDomid(arg, out uint domid))
        {
            return XsError.EINVAL;
        }

        Reply(r, StorePath.Home(domid));
        return XsError.None;
    }

    private XsError DoIsDomainIntroduced(XsRequest r)
    {
        if (r.OneArg() is not { } arg || !CNumber.TryParseDomid(arg, out uint domid))
        {
            return XsError.EINVAL;
        }

        bool introduced = domid == XenstoreLayout.DomidSelf || (_domains.TryGetValue(domid, out StoreDomain? d) && d.Introduced);
        Reply(r, introduced ? "T" : "F");
        return XsError.None;
    }

    /// <summary>
    /// INTRODUCE domid|gfn|port|: the toolstack introduces domains in-process (<see cref="Introduce"/>), which binds the
    /// ring it knows; a wire INTRODUCE of a domain already introduced is acknowledged (xenstored would rebind its event
    /// channel, which here never changes), and of any other domain is EINVAL: this store cannot map a page by its gfn.
    /// </summary>
    private XsError DoIntroduce(XsRequest r)
    {
        List<string> args = r.Strings();
        if (args.Count < 3)
        {
            return XsError.EINVAL;
        }

        if (!CNumber.TryParseDomid(args[0], out uint domid))
        {
            return XsError.EINVAL;
        }

        if (CNumber.Atoi(args[2]) <= 0 || !_domains.TryGetValue(domid, out StoreDomain? d) || !d.Introduced)
        {
            return XsError.EINVAL;
        }

        Ack(r);
        return XsError.None;
    }

    /// <summary>RELEASE domid|: the store lets the domain go as if it had died (its watches go first, so they see nothing).</summary>
    private XsError DoRelease(XsRequest r)
    {
        XsError e = OneArgDomain(r, out StoreDomain? d);
        if (e != XsError.None)
        {
            return e;
        }

        d!.Connection?.Watches.Clear();
        Release(d.Domid);
        Ack(r);
        return XsError.None;
    }

    private XsError DoResume(XsRequest r)
    {
        XsError e = OneArgDomain(r, out _);
        if (e == XsError.None)
        {
            Ack(r); // @releaseDomain fires when a domain is released, never merely on shutdown, so there is nothing to re-arm
        }

        return e;
    }

    /// <summary>SET_TARGET domid|tdomid|: domid gets tdomid's permissions (a device model serving tdomid).</summary>
    private XsError DoSetTarget(XsRequest r)
    {
        List<string> args = r.Strings();
        if (args.Count < 2 || !CNumber.TryParseDomid(args[0], out uint domid) || !CNumber.TryParseDomid(args[1], out uint target))
        {
            return XsError.EINVAL;
        }

        XsError e = ConnectedDomain(domid, out StoreDomain? d);
        if (e == XsError.None)
        {
            e = ConnectedDomain(target, out _);
        }

        if (e != XsError.None)
        {
            return e;
        }

        d!.Connection!.Target = target;
        Ack(r);
        return XsError.None;
    }

    private XsError DoGetFeature(XsRequest r)
    {
        List<string> args = r.Strings();
        uint features;
        if (args.Count == 0)
        {
            features = FeaturesOf(r.Connection);
        }
        else
        {
            if (!r.Connection.IsPrivileged)
            {
                return XsError.EACCES;
            }

            if (args.Count > 1 || !CNumber.TryParseDomid(args[0], out uint domid))
            {
                return XsError.EINVAL;
            }

            if (!DomainExists(domid))
            {
                return XsError.ENOENT;
            }

            features = GetDomain(domid).Features;
        }

        Reply(r, features.ToString(CultureInfo.InvariantCulture));
        return XsError.None;
    }

    /// <summary>SET_FEATURE domid|features|: only before the domain is introduced, only features the store has.</summary>
    private XsError DoSetFeature(XsRequest r)
    {
        List<string> args = r.Strings();
        if (args.Count != 2 || !CNumber.TryParseDomid(args[0], out uint domid))
        {
            return XsError.EINVAL;
        }

        uint features = unchecked((uint)CNumber.Atoi(args[1]));
        if (!DomainExists(domid))
        {
            return XsError.ENOENT;
        }

        StoreDomain d = GetDomain(domid);
        if (d.Introduced)
        {
            return XsError.EBUSY;
        }

        if ((features & ~SupportedFeatures) != 0)
        {
            return XsError.EINVAL;
        }

        d.Features = features;
        Ack(r);
        return XsError.None;
    }

    /// <summary>GET_QUOTA [[domid|]name|]: no argument lists the quota names; a name gives the global value, domid|name a domain's.</summary>
    private XsError DoGetQuota(XsRequest r)
    {
        List<string> args = r.Strings();
        if (args.Count > 2)
        {
            return XsError.EINVAL;
        }

        if (args.Count == 0)
        {
            Reply(r, string.Join(' ', StoreQuota.Names));
            return XsError.None;
        }

        XsError e = QuotaTarget(args, out StoreQuota? quota);
        if (e != XsError.None)
        {
            return e;
        }

        if (!StoreQuota.TryParseName(args[^1], out QuotaItem item))
        {
            return XsError.EINVAL;
        }

        Reply(r, quota![item].ToString(CultureInfo.InvariantCulture));
        return XsError.None;
    }

    /// <summary>SET_QUOTA [domid|]name|value|: 0 would switch the quota off and is refused, as in xenstored.</summary>
    private XsError DoSetQuota(XsRequest r)
    {
        List<string> args = r.Strings();
        if (args.Count is < 2 or > 3)
        {
            return XsError.EINVAL;
        }

        XsError e = QuotaTarget(args[..^1], out StoreQuota? quota);
        if (e != XsError.None)
        {
            return e;
        }

        int value = CNumber.Atoi(args[^1]);
        if (!StoreQuota.TryParseName(args[^2], out QuotaItem item) || value <= 0)
        {
            return XsError.EINVAL;
        }

        quota![item] = value;
        Ack(r);
        return XsError.None;
    }

    /// <summary>The quota set <paramref name="args"/> (…, name) refers to: global for [name], a domain's for [domid, name].</summary>
    private XsError QuotaTarget(List<string> args, out StoreQuota? quota)
    {
        quota = Quota;
        if (args.Count < 2)
        {
            return XsError.None;
        }

        if (!CNumber.TryParseDomid(args[0], out uint domid))
        {
            return XsError.EINVAL;
        }

        if (!DomainExists(domid))
        {
            return XsError.ENOENT;
        }

        quota = GetDomain(domid).Quota;
        return XsError.None;
    }

    /// <summary>CONTROL command|params|: the few of xenstored's commands that mean something here.</summary>
    private XsError DoControl(XsRequest r)
    {
        List<string> args = r.Strings();
        if (args.Count == 0)
        {
            return XsError.EINVAL;
        }

        switch (args[0])
        {
            case "check" when args.Count == 1:
                Ack(r);
                return XsError.None;
            case "print" when args.Count == 2:
                _log?.Write($"xenstore: {args[1]}");
                Ack(r);
                return XsError.None;
            case "quota" when args.Count == 1:
                var text = new StringBuilder();
                for (int i = 0; i < StoreQuota.Names.Count; i++)
                {
                    text.Append(CultureInfo.InvariantCulture, $"{StoreQuota.Names[i],-18}: {Quota[(QuotaItem)i]}\n");
                }

                Reply(r, text.ToString());
                return XsError.None;
            case "help" when args.Count == 1:
                Reply(r, string.Concat(ControlCommands.Select(c => $"{c.Name,-15} {c.Parameters}\n")));
                return XsError.None;
            default:
                return XsError.EINVAL;
        }
    }

    /// <summary>onearg_domain: a domain id argument naming an introduced domain other than 0 (ENOENT / EINVAL otherwise).</summary>
    private XsError OneArgDomain(XsRequest r, out StoreDomain? domain)
    {
        domain = null;
        if (r.OneArg() is not { } arg || !CNumber.TryParseDomid(arg, out uint domid) || domid == 0)
        {
            return XsError.EINVAL;
        }

        return ConnectedDomain(domid, out domain);
    }

    private XsError ConnectedDomain(uint domid, out StoreDomain? domain)
    {
        if (!_domains.TryGetValue(domid, out domain) || !domain.Introduced)
        {
            return XsError.ENOENT;
        }

        return domain.Connection is null ? XsError.EINVAL : XsError.None;
    }
}
