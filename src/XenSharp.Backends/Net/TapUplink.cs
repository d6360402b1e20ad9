namespace XenSharp.Backends.Net;

/// <summary>
/// The VFR's uplink to the host: a port whose endpoint is a <see cref="TapDevice"/>. A reader thread moves frames the
/// host sends on the TAP interface into the VFR; frames switched to the uplink are written to it on the sender's
/// thread (a TAP write does not wait). A blank TCP/UDP checksum is filled in first (the TAP takes no offloads); a GSO
/// frame cannot go (it would need IFF_VNET_HDR) and is refused, counted in <see cref="DroppedGso"/>.
/// Invariant: after <see cref="Dispose"/> returns no frame is read or written and the port is off the VFR.
/// </summary>
public sealed class TapUplink : IVfrEndpoint, IDisposable
{
    private const int PollMs = 100;
    private readonly TapDevice _tap;
    private readonly object _writeLock = new(); // a leaf: one TAP write at a time
    private readonly Thread _reader;
    private volatile bool _stopping;
    private long _droppedGso;
    private long _readErrors;

    public TapUplink(Vfr vfr, TapDevice tap, string name = "uplink")
    {
        _tap = tap;
        Port = vfr.Attach(name, this);
        _reader = new Thread(ReadLoop) { IsBackground = true, Name = $"tap {tap.Name}" };
        _reader.Start();
    }

    public VfrPort Port { get; }

    public long DroppedGso => Interlocked.Read(ref _droppedGso);

    public long ReadErrors => Interlocked.Read(ref _readErrors);

    public bool Deliver(NetPacket packet)
    {
        if (packet.IsGso)
        {
            Interlocked.Increment(ref _droppedGso);
            return false;
        }

        byte[] frame = (packet.Offload & NetOffload.CsumBlank) != 0 ? NetChecksum.Filled(packet.Frame) ?? packet.Frame : packet.Frame;
        lock (_writeLock)
        {
            return !_stopping && _tap.Write(frame);
        }
    }

    public void Dispose()
    {
        Port.Dispose();
        lock (_writeLock)
        {
            _stopping = true;
        }

        _reader.Join();
        _tap.Dispose();
    }

    private void ReadLoop()
    {
        var buffer = new byte[NetPacket.MaxFrame];
        while (!_stopping)
        {
            int n;
            try
            {
                n = _tap.Read(buffer, PollMs);
            }
            catch (IOException)
            {
                Interlocked.Increment(ref _readErrors);
                return;
            }

            if (n > 0)
            {
                Port.Send(new NetPacket(buffer[..n], NetOffload.DataValidated));
            }
        }
    }
}
