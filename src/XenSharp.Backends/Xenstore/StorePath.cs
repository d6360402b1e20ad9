using XenSharp.Abi;

namespace XenSharp.Backends.Xenstore;

/// <summary>
/// Node names (docs/misc/xenstore.txt): absolute paths "/a/b", special names "@releaseDomain", and paths relative to a
/// domain's home /local/domain/&lt;id&gt;. Allowed characters are ASCII letters, digits and -/_@; no empty path, no
/// "//", no trailing '/' except the root itself.
/// </summary>
internal static class StorePath
{
    public const string Root = "/";
    private const string LocalDomain = "/local/domain/";

    public static string Home(uint domid) => $"{LocalDomain}{domid}";

    /// <summary>
    /// xenstored's canonicalize: checks the characters, makes a relative path absolute under <paramref name="home"/>,
    /// and refuses a trailing '/', "//", a path above <see cref="XenstoreLayout.AbsPathMax"/>, and — when
    /// <paramref name="pathMax"/> is not 0 — one whose part below /local/domain/&lt;id&gt;/ reaches that length (the
    /// per-domain "path-max" quota). Special names need <paramref name="allowSpecial"/>. Null (a missing argument) is
    /// EINVAL like everything else wrong.
    /// </summary>
    public static string? Canonicalize(string? path, string home, bool allowSpecial, int pathMax)
    {
        if (path is null || !ValidChars(path) || (path.StartsWith('@') && !allowSpecial))
        {
            return null;
        }

        string name = path.StartsWith('/') || path.StartsWith('@') ? path : $"{home}/{path}";
        if ((name.EndsWith('/') && name != Root) || name.Contains("//", StringComparison.Ordinal) || name.Length > XenstoreLayout.AbsPathMax)
        {
            return null;
        }

        if (pathMax != 0 && name.Length - LocalOffset(name) >= pathMax)
        {
            return null;
        }

        return name;
    }

    public static bool ValidChars(string s)
    {
        foreach (char c in s)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '-' or '/' or '_' or '@'))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>get_parent: everything before the last '/', or the root ("@x" and "/x" both have the root as parent).</summary>
    public static string Parent(string name)
    {
        int slash = name.Length > 1 ? name.LastIndexOf('/', name.Length - 1, name.Length - 1) : -1;
        return slash > 0 ? name[..slash] : Root;
    }

    /// <summary>The last component (the name in the parent's child list). Not for the root.</summary>
    public static string Leaf(string name) => name[(name.LastIndexOf('/') + 1)..];

    public static string Child(string parent, string leaf) => parent == Root ? $"/{leaf}" : $"{parent}/{leaf}";

    /// <summary>
    /// xenstored's is_child: whether <paramref name="child"/> is <paramref name="parent"/> or below it, and, when
    /// <paramref name="depth"/> ≥ 0, at most that many levels below (0: the node itself; 1: also direct children).
    /// </summary>
    public static bool IsChild(string child, string parent, int depth)
    {
        int len = parent.Length;
        int subLevels = len == 1 ? 1 : 0;
        if (!child.StartsWith(parent, StringComparison.Ordinal))
        {
            return false;
        }

        char next = At(child, len);
        if (next != '/' && next != '\0' && len > 1)
        {
            return false;
        }

        if (depth < 0 || next == '\0')
        {
            return true;
        }

        while (subLevels <= depth)
        {
            char c = At(child, len);
            if (c == '\0')
            {
                return true;
            }

            if (c == '/')
            {
                subLevels++;
            }

            len++;
        }

        return false;
    }

    /// <summary>Where the domain-relative part of /local/domain/&lt;1-5 digits&gt;/... starts; 0 for other names.</summary>
    private static int LocalOffset(string name)
    {
        if (!name.StartsWith(LocalDomain, StringComparison.Ordinal))
        {
            return 0;
        }

        int i = LocalDomain.Length;
        int digits = 0;
        while (i < name.Length && char.IsAsciiDigit(name[i]) && digits < 5)
        {
            i++;
            digits++;
        }

        return digits > 0 && i < name.Length && name[i] == '/' ? i + 1 : 0;
    }

    private static char At(string s, int i) => i < s.Length ? s[i] : '\0';
}
