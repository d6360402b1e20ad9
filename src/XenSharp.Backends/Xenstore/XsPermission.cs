using XenSharp.Abi;

namespace XenSharp.Backends.Xenstore;

/// <summary>
/// One permission entry of a node, as GET_PERMS/SET_PERMS spell it: a letter (n none, r read, w write, b both) and a
/// domain id, e.g. "r5". The first entry of a node names its owner, and its letter is what every domain without an
/// entry of its own gets.
/// </summary>
public readonly record struct XsPermission(uint Domid, XsAccess Access)
{
    public static XsPermission None(uint domid) => new(domid, XsAccess.None);

    public static XsPermission Read(uint domid) => new(domid, XsAccess.Read);

    public static XsPermission Write(uint domid) => new(domid, XsAccess.Write);

    public static XsPermission Both(uint domid) => new(domid, XsAccess.Both);

    /// <summary>An entry for every domain (DOMID_ANY).</summary>
    public static XsPermission Any(XsAccess access) => new(XenstoreLayout.DomidAny, access);

    /// <summary>
    /// Parses "&lt;n|r|w|b&gt;&lt;domid&gt;" the way xenstored does: the id is a C strtol with base 0 (so "0x10" is 16
    /// and "010" is 8), must be non-empty and must end the string; its value is truncated to 32 bits.
    /// </summary>
    public static bool TryParse(string text, out XsPermission permission)
    {
        permission = default;
        if (text.Length < 2)
        {
            return false;
        }

        XsAccess access;
        switch (text[0])
        {
            case 'n': access = XsAccess.None; break;
            case 'r': access = XsAccess.Read; break;
            case 'w': access = XsAccess.Write; break;
            case 'b': access = XsAccess.Both; break;
            default: return false;
        }

        if (!CNumber.TryStrtol(text.AsSpan(1), out long id))
        {
            return false;
        }

        permission = new XsPermission(unchecked((uint)id), access);
        return true;
    }

    /// <summary>The wire form: the letter, then the id printed as a signed int (as xenstored's "%i").</summary>
    public override string ToString()
    {
        char letter = (Access & XsAccess.Both) switch
        {
            XsAccess.Read => 'r',
            XsAccess.Write => 'w',
            XsAccess.Both => 'b',
            _ => 'n',
        };
        return $"{letter}{unchecked((int)Domid)}";
    }
}
