using System.Buffers.Binary;
using System.Text;
using XenSharp.Abi;

namespace XenSharp.Backends.Xenstore;

/// <summary>Request dispatch, replies, and the database operations READ, WRITE, MKDIR, RM, DIRECTORY(_PART), GET/SET_PERMS.</summary>
public sealed partial class XenStore
{
    private static readonly byte[] OkPayload = Encoding.ASCII.GetBytes("OK\0");

    /// <summary>xenstored's process_message: privilege and transaction checks, the handler, an XS_ERROR if it failed.</summary>
    private void Process(XsRequest r)
    {
        XsError error = Dispatch(r);
        if (error != XsError.None)
        {
            SendError(r, error);
        }
    }

    private XsError Dispatch(XsRequest r)
    {
        Func<XsRequest, XsError>? handler = r.Type switch
        {
            XsMessageType.Control => DoControl,
            XsMessageType.Directory => DoDirectory,
            XsMessageType.Read => DoRead,
            XsMessageType.GetPerms => DoGetPerms,
            XsMessageType.Watch => DoWatch,
            XsMessageType.Unwatch => DoUnwatch,
            XsMessageType.TransactionStart => DoTransactionStart,
            XsMessageType.TransactionEnd => DoTransactionEnd,
            XsMessageType.Introduce => DoIntroduce,
            XsMessageType.Release => DoRelease,
            XsMessageType.GetDomainPath => DoGetDomainPath,
            XsMessageType.Write => DoWrite,
            XsMessageType.Mkdir => DoMkdir,
            XsMessageType.Rm => DoRm,
            XsMessageType.SetPerms => DoSetPerms,
            XsMessageType.IsDomainIntroduced => DoIsDomainIntroduced,
            XsMessageType.Resume => DoResume,
            XsMessageType.SetTarget => DoSetTarget,
            XsMessageType.ResetWatches => DoResetWatches,
            XsMessageType.DirectoryPart => DoDirectoryPart,
            XsMessageType.GetFeature => DoGetFeature,
            XsMessageType.SetFeature => DoSetFeature,
            XsMessageType.GetQuota => DoGetQuota,
            XsMessageType.SetQuota => DoSetQuota,
            _ => null, // WATCH_EVENT, ERROR, the removed RESTRICT, unknown types
        };
        if (handler is null)
        {
            return XsError.ENOSYS;
        }

        if (IsPrivilegedOnly(r.Type) && !r.Connection.IsPrivileged)
        {
            return XsError.EACCES;
        }

        if (r.Type is not (XsMessageType.Watch or XsMessageType.Unwatch) && r.TransactionId != 0)
        {
            if (!r.Connection.Transactions.TryGetValue(r.TransactionId, out StoreTransaction? tx))
            {
                return XsError.ENOENT;
            }

            r.Transaction = tx;
        }

        return handler(r);
    }

    private static bool IsPrivilegedOnly(XsMessageType type) => type is XsMessageType.Control or XsMessageType.Introduce
        or XsMessageType.Release or XsMessageType.IsDomainIntroduced or XsMessageType.Resume or XsMessageType.SetTarget
        or XsMessageType.SetFeature or XsMessageType.GetQuota or XsMessageType.SetQuota;

    /// <summary>Queues a reply with the request's req_id and tx_id; a payload above 4096 bytes becomes E2BIG.</summary>
    private void Reply(XsRequest r, XsMessageType type, ReadOnlySpan<byte> payload)
    {
        if (payload.Length > XenstoreLayout.PayloadMax)
        {
            SendError(r, XsError.E2BIG);
            return;
        }

        Enqueue(r.Connection, new OutMessage(Encode(type, r.RequestId, r.TransactionId, payload), null));
    }

    private void Reply(XsRequest r, string text) => Reply(r, r.Type, Encoding.Latin1.GetBytes(text + "\0"));

    private void Ack(XsRequest r) => Reply(r, r.Type, OkPayload);

    private void SendError(XsRequest r, XsError error) =>
        Enqueue(r.Connection, new OutMessage(Encode(XsMessageType.Error, r.RequestId, r.TransactionId, Encoding.ASCII.GetBytes(error + "\0")), null));

    private void Enqueue(StoreConnection c, OutMessage m)
    {
        if (c.Closed)
        {
            return;
        }

        c.Output.AddLast(m);
        if (m.EventKey is { } key)
        {
            c.QueuedEventBytes += m.Bytes.Length;
            c.WaitingEvents[key] = c.WaitingEvents.GetValueOrDefault(key) + 1;
        }
        else
        {
            c.QueuedReplies++;
        }

        _dirty.Add(c);
    }

    private static byte[] Encode(XsMessageType type, uint reqId, uint txId, ReadOnlySpan<byte> payload)
    {
        var m = new byte[XenstoreLayout.HeaderSize + payload.Length];
        BinaryPrimitives.WriteUInt32LittleEndian(m, (uint)type);
        BinaryPrimitives.WriteUInt32LittleEndian(m.AsSpan(4), reqId);
        BinaryPrimitives.WriteUInt32LittleEndian(m.AsSpan(8), txId);
        BinaryPrimitives.WriteUInt32LittleEndian(m.AsSpan(12), (uint)payload.Length);
        payload.CopyTo(m.AsSpan(XenstoreLayout.HeaderSize));
        return m;
    }

    private XsError DoRead(XsRequest r)
    {
        XsError e = GetNode(r, r.OneArg(), XsAccess.Read, allowSpecial: false, out _, out StoreNode? node);
        if (e == XsError.None)
        {
            Reply(r, XsMessageType.Read, node!.Value);
        }

        return e;
    }

    private XsError DoDirectory(XsRequest r)
    {
        XsError e = GetNode(r, r.OneArg(), XsAccess.Read, allowSpecial: false, out _, out StoreNode? node);
        if (e == XsError.None)
        {
            Reply(r, XsMessageType.Directory, node!.ChildrenBytes());
        }

        return e;
    }

    /// <summary>
    /// DIRECTORY_PART path|offset|: the node's generation, then as many whole children from byte
    /// <c>offset</c> of the list as fit in a reply, and an empty string when the list ends there (send_directory_part).
    /// </summary>
    private XsError DoDirectoryPart(XsRequest r)
    {
        List<string> args = r.Strings();
        if (args.Count != 2)
        {
            return XsError.EINVAL;
        }

        XsError e = GetNode(r, args[0], XsAccess.Read, allowSpecial: false, out _, out StoreNode? node);
        if (e != XsError.None)
        {
            return e;
        }

        uint off = unchecked((uint)CNumber.Atoi(args[1]));
        byte[] children = node!.ChildrenBytes();
        byte[] gen = Encoding.ASCII.GetBytes(node.Generation.ToString(System.Globalization.CultureInfo.InvariantCulture) + "\0");
        if (off >= (uint)children.Length)
        {
            Reply(r, XsMessageType.DirectoryPart, [.. gen, 0]);
            return XsError.None;
        }

        int maxLen = XenstoreLayout.PayloadMax - gen.Length - 1;
        int len = 0;
        int at = (int)off;
        while (true)
        {
            int nameLen = Array.IndexOf(children, (byte)0, at) - at;
            if (len + nameLen >= maxLen)
            {
                break;
            }

            len += nameLen + 1;
            at += nameLen + 1;
            if (off + len == children.Length)
            {
                break;
            }
        }

        bool end = off + len == children.Length;
        var reply = new byte[gen.Length + len + (end ? 1 : 0)];
        gen.CopyTo(reply, 0);
        Array.Copy(children, (int)off, reply, gen.Length, len);
        Reply(r, XsMessageType.DirectoryPart, reply);
        return XsError.None;
    }

    private XsError DoWrite(XsRequest r)
    {
        int nul = Array.IndexOf(r.Payload, (byte)0);
        if (nul < 0)
        {
            return XsError.EINVAL;
        }

        string path = Encoding.Latin1.GetString(r.Payload, 0, nul);
        byte[] value = r.Payload[(nul + 1)..];
        XsError e = GetNode(r, path, XsAccess.Write, allowSpecial: false, out string? name, out StoreNode? node);
        StoreNode written;
        if (e == XsError.ENOENT)
        {
            e = CreateNode(r, name!, value, out written);
        }
        else if (e == XsError.None)
        {
            written = node!.Clone();
            written.Value = value;
            e = WriteNode(r, written);
        }
        else
        {
            return e;
        }

        if (e != XsError.None)
        {
            return e;
        }

        FireWatches(r, name!, written, WatchMatch.Subtree, null);
        Ack(r);
        return XsError.None;
    }

    private XsError DoMkdir(XsRequest r)
    {
        XsError e = GetNode(r, r.OneArg(), XsAccess.Write, allowSpecial: false, out string? name, out _);
        if (e == XsError.ENOENT)
        {
            e = CreateNode(r, name!, [], out StoreNode created);
            if (e != XsError.None)
            {
                return e;
            }

            FireWatches(r, name!, created, WatchMatch.Subtree, null);
        }
        else if (e != XsError.None)
        {
            return e;
        }

        Ack(r);
        return XsError.None;
    }

    /// <summary>RM: removing a missing node is fine if its parent exists; removing "/" is EINVAL.</summary>
    private XsError DoRm(XsRequest r)
    {
        XsError e = GetNode(r, r.OneArg(), XsAccess.Write, allowSpecial: false, out string? name, out _);
        if (e == XsError.ENOENT)
        {
            e = ReadNode(r, StorePath.Parent(name!), out StoreNode? parent);
            if (e != XsError.None)
            {
                return e;
            }

            if (parent is null)
            {
                return XsError.ENOENT;
            }

            Ack(r);
            return XsError.None;
        }

        if (e != XsError.None)
        {
            return e;
        }

        if (name == StorePath.Root)
        {
            return XsError.EINVAL;
        }

        e = RemoveNode(r, name!);
        if (e == XsError.None)
        {
            Ack(r);
        }

        return e;
    }

    private XsError DoGetPerms(XsRequest r)
    {
        XsError e = GetNode(r, r.OneArg(), XsAccess.Read, allowSpecial: true, out _, out StoreNode? node);
        if (e == XsError.None)
        {
            Reply(r, XsMessageType.GetPerms, Encoding.Latin1.GetBytes(string.Concat(node!.Permissions.Select(p => p + "\0"))));
        }

        return e;
    }

    /// <summary>
    /// SET_PERMS path|perm|+: only the owner (or a privileged caller) may, only a privileged caller may change the owner
    /// (EPERM), entries naming no existing domain are kept but ignored, and an owner naming none is ENOENT.
    /// </summary>
    private XsError DoSetPerms(XsRequest r)
    {
        StoreConnection c = r.Connection;
        List<string> args = r.Strings();
        if (args.Count < 2)
        {
            return XsError.EINVAL;
        }

        int count = args.Count - 1;
        if (Exceeds(c, QuotaItem.Permissions, count))
        {
            return XsError.ENOSPC;
        }

        var perms = new XsPermission[count];
        for (int i = 0; i < count; i++)
        {
            if (!XsPermission.TryParse(args[i + 1], out perms[i]))
            {
                return XsError.EINVAL;
            }

            bool known = perms[i].Domid == XenstoreLayout.DomidAny
                ? (FeaturesOf(c) & XenstoreLayout.FeatureDomidAny) != 0
                : DomainExists(perms[i].Domid);
            if (!known)
            {
                perms[i] = perms[i] with { Access = perms[i].Access | XsAccess.Ignore };
            }
        }

        if ((perms[0].Access & XsAccess.Ignore) != 0)
        {
            return XsError.ENOENT;
        }

        XsError e = GetNode(r, args[0], XsAccess.Write | XsAccess.Owner, allowSpecial: true, out string? name, out StoreNode? node);
        if (e != XsError.None)
        {
            return e;
        }

        if (!c.IsPrivileged && perms[0].Domid != node!.Owner)
        {
            return XsError.EPERM;
        }

        StoreNode changed = node!.Clone();
        changed.Permissions = perms;
        e = WriteNode(r, changed);
        if (e != XsError.None)
        {
            return e;
        }

        FireWatches(r, name!, changed, WatchMatch.Subtree, node.Permissions);
        Ack(r);
        return XsError.None;
    }
}
