using System.Buffers.Binary;
using XenSharp.Abi;
using XenSharp.Hypervisor.Domains;
using XenSharp.Hypervisor.Events;
using Evtchn = XenSharp.Hypervisor.Events.EventChannelOp;

namespace XenSharp.Hypervisor.Hypercalls;

/// <summary>
/// event_channel_op(cmd, arg) (32) and event_channel_op_compat(struct evtchn_op *) (16): each command copies its
/// struct in once, acts on the domain's <see cref="EventChannelTable"/>, and copies the whole struct back for commands
/// with OUT fields (a failed copy-out is -EFAULT; the action stands, as in Xen). The FIFO commands (init_control,
/// expand_array, set_priority) exist only in the newer form, as in Xen; init_control copies link_bits out only on
/// success. A domU may name only itself in `dom` fields (another existing domain: -EPERM, no such domain: -ESRCH);
/// physical IRQs are never delegated to guests (-EPERM).
/// </summary>
internal static class EventChannelHypercall
{
    private const int MaxStruct = Evtchn.StatusSize;

    public static long EventChannelOp(Vcpu vcpu, ulong cmd, ulong arg, ulong a3, ulong a4, ulong a5) =>
        Op(vcpu, unchecked((int)cmd), arg);

    /// <summary>The pre-3.0.2 form: the command and its struct in one struct evtchn_op; only the original commands.</summary>
    public static long EventChannelOpCompat(Vcpu vcpu, ulong arg, ulong a2, ulong a3, ulong a4, ulong a5)
    {
        Span<byte> op = stackalloc byte[Evtchn.CompatOpSize];
        if (!vcpu.CopyFromGuest(arg, op))
        {
            return -XenErrno.EFAULT;
        }

        int cmd = (int)BinaryPrimitives.ReadUInt32LittleEndian(op);
        return cmd switch
        {
            Evtchn.BindInterdomain or Evtchn.BindVirq or Evtchn.BindPirq
                or Evtchn.Close or Evtchn.Send or Evtchn.Status
                or Evtchn.AllocUnbound or Evtchn.BindIpi or Evtchn.BindVcpu
                or Evtchn.Unmask => Op(vcpu, cmd, arg + Evtchn.CompatUnionOffset),
            _ => -XenErrno.ENOSYS,
        };
    }

    private static long Op(Vcpu vcpu, int cmd, ulong arg)
    {
        Domain d = vcpu.Domain;
        EventChannelTable events = d.Events;
        int size = cmd switch
        {
            Evtchn.BindInterdomain => Evtchn.BindInterdomainSize,
            Evtchn.BindVirq => Evtchn.BindVirqSize,
            Evtchn.BindPirq => Evtchn.BindPirqSize,
            Evtchn.Close or Evtchn.Send or Evtchn.Unmask => Evtchn.PortSize,
            Evtchn.Status => Evtchn.StatusSize,
            Evtchn.AllocUnbound => Evtchn.AllocUnboundSize,
            Evtchn.BindIpi => Evtchn.BindIpiSize,
            Evtchn.BindVcpu => Evtchn.BindVcpuSize,
            Evtchn.Reset => Evtchn.ResetSize,
            Evtchn.InitControl => Evtchn.InitControlSize,
            Evtchn.ExpandArray => Evtchn.ExpandArraySize,
            Evtchn.SetPriority => Evtchn.SetPrioritySize,
            _ => -1,
        };

        if (size < 0)
        {
            d.Log.Limited($"d{d.Id}-evtchnop-{cmd}", $"(d{d.Id}v{vcpu.Id}) unimplemented event_channel_op {cmd}: -ENOSYS");
            return -XenErrno.ENOSYS;
        }

        Span<byte> s = stackalloc byte[MaxStruct];
        s = s[..size];
        if (!vcpu.CopyFromGuest(arg, s))
        {
            return -XenErrno.EFAULT;
        }

        switch (cmd)
        {
            case Evtchn.AllocUnbound:
            {
                int rc = CheckSelf(d, U16(s, 0));
                return rc != 0 ? rc : PortOut(vcpu, arg, s, 4, events.AllocUnbound(U16(s, 2)));
            }

            case Evtchn.BindInterdomain:
                return PortOut(vcpu, arg, s, 8, events.BindInterdomain(U16(s, 0), U32(s, 4)));
            case Evtchn.BindVirq:
                return PortOut(vcpu, arg, s, 8, events.BindVirq(U32(s, 0), U32(s, 4)));
            case Evtchn.BindPirq:
                return (int)U32(s, 0) < 0 ? -XenErrno.EINVAL : -XenErrno.EPERM;
            case Evtchn.BindIpi:
                return PortOut(vcpu, arg, s, 4, events.BindIpi(U32(s, 0)));
            case Evtchn.Close:
                return events.Close(U32(s, 0));
            case Evtchn.Send:
                return events.Send(U32(s, 0));
            case Evtchn.Unmask:
                return events.Unmask(U32(s, 0));
            case Evtchn.BindVcpu:
                return events.BindVcpu(U32(s, 0), U32(s, 4));
            case Evtchn.Status:
            {
                int rc = CheckSelf(d, U16(s, 0));
                if (rc == 0)
                {
                    rc = events.Status(U32(s, 4), out EventChannelStatus st);
                    if (rc == 0)
                    {
                        WriteStatus(s, st);
                        rc = vcpu.CopyToGuest(arg, s) ? 0 : -XenErrno.EFAULT;
                    }
                }

                return rc;
            }

            case Evtchn.InitControl:
            {
                int rc = events.InitControl(U64(s, 0), U32(s, 8), U32(s, 12));
                if (rc == 0)
                {
                    s[Evtchn.InitControlLinkBits] = EventFifoLayout.LinkBits;
                    rc = vcpu.CopyToGuest(arg, s) ? 0 : -XenErrno.EFAULT;
                }

                return rc;
            }

            case Evtchn.ExpandArray:
                return events.ExpandArray(U64(s, 0));
            case Evtchn.SetPriority:
                return events.SetPriority(U32(s, 0), U32(s, 4));
            case Evtchn.Reset:
            {
                int rc = CheckSelf(d, U16(s, 0));
                if (rc == 0)
                {
                    events.Reset();
                }

                return rc;
            }

            default:
                return -XenErrno.ENOSYS;
        }
    }

    private static uint U32(ReadOnlySpan<byte> s, int offset) => BinaryPrimitives.ReadUInt32LittleEndian(s[offset..]);

    private static ulong U64(ReadOnlySpan<byte> s, int offset) => BinaryPrimitives.ReadUInt64LittleEndian(s[offset..]);

    private static ushort U16(ReadOnlySpan<byte> s, int offset) => BinaryPrimitives.ReadUInt16LittleEndian(s[offset..]);

    /// <summary>Writes an allocated port into the struct's OUT field and copies the struct back; errors pass through.</summary>
    private static long PortOut(Vcpu vcpu, ulong arg, Span<byte> s, int offset, int port)
    {
        if (port < 0)
        {
            return port;
        }

        BinaryPrimitives.WriteUInt32LittleEndian(s[offset..], (uint)port);
        return vcpu.CopyToGuest(arg, s) ? 0 : -XenErrno.EFAULT;
    }

    /// <summary>The status fields, over the guest's own bytes where the union member is shorter (as Xen leaves them).</summary>
    private static void WriteStatus(Span<byte> s, EventChannelStatus st)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(s[8..], (uint)st.Status);
        BinaryPrimitives.WriteUInt32LittleEndian(s[12..], st.Vcpu);
        switch (st.Status)
        {
            case EventChannelStatusCode.Unbound:
                BinaryPrimitives.WriteUInt16LittleEndian(s[16..], st.RemoteDomain);
                break;
            case EventChannelStatusCode.Interdomain:
                BinaryPrimitives.WriteUInt16LittleEndian(s[16..], st.RemoteDomain);
                BinaryPrimitives.WriteUInt32LittleEndian(s[20..], st.RemotePort);
                break;
            case EventChannelStatusCode.Virq:
                BinaryPrimitives.WriteUInt32LittleEndian(s[16..], st.Virq);
                break;
        }
    }

    /// <summary>Xen's rcu_lock_domain_by_any_id plus the XSM_TARGET check for an unprivileged caller.</summary>
    private static int CheckSelf(Domain d, ushort dom)
    {
        if (dom == Evtchn.DomidSelf || dom == d.Id)
        {
            return 0;
        }

        if (dom == Evtchn.BackendDomain || d.Hypervisor.Domains.Any(o => o.Id == dom))
        {
            return -XenErrno.EPERM;
        }

        return -XenErrno.ESRCH;
    }
}
