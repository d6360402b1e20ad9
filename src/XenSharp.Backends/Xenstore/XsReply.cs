using System.Text;
using XenSharp.Abi;

namespace XenSharp.Backends.Xenstore;

/// <summary>A reply as an in-process client receives it: its type and payload, with readings of the payload.</summary>
public readonly record struct XsReply(XsMessageType Type, byte[] Payload)
{
    public bool IsError => Type == XsMessageType.Error;

    /// <summary>The error an XS_ERROR reply names (<see cref="XsError.None"/> for a success, EINVAL for a name it does not know).</summary>
    public XsError Error => !IsError ? XsError.None : Enum.TryParse(Text, out XsError e) && e != XsError.None ? e : XsError.EINVAL;

    /// <summary>The payload as text without a final NUL (a READ value, "OK", a transaction id, an error name).</summary>
    public string Text => Encoding.Latin1.GetString(Payload.AsSpan().TrimEnd((byte)0));

    /// <summary>The payload's NUL-terminated strings (DIRECTORY, GET_PERMS).</summary>
    public string[] Strings
    {
        get
        {
            if (Payload.Length == 0)
            {
                return [];
            }

            string s = Encoding.Latin1.GetString(Payload);
            return (s.EndsWith('\0') ? s[..^1] : s).Split('\0');
        }
    }
}
