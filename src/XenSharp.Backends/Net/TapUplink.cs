using System.Buffers.Binary;

namespace XenSharp.Backends.Net;

/// <summary>
/// The VFR's uplink to the host: a port whose endpoint is a <see cref="TapDevice"/>. A reader thread moves frames the
/// host sends on the TAP interface into the VFR; frames switched to the uplink are written to it on the sender's
/// thread (a TAP write does not wait). With a virtio_net_hdr (the default) a GSO frame goes as it is (the kernel cuts
/// it) and a blank TCP/UDP checksum as a partial one the kernel finishes; without one, a blank checksum is filled in
/// here and a GSO frame is cut into segments (<see cref="NetSegmenter"/>). Frames that cannot go are counted in
/// <see cref="Unsendable"/>.
/// Invariant: after <see cref="Dispose"/> returns no frame is read or written and the port is off the VFR.
/// </summary>
public sealed class TapUplink : IVfrEndpoint, IDisposable
{
    private const int PollMs = 100;
    private readonly TapDevice _tap;
    private readonly object _writeLock = new(); // a leaf: one TAP write at a time
    private readonly Thread _reader;
    private volatile bool _stopping;
    private const int VnetHeaderSize = 10;
    private const byte NeedsCsum = 1;
    private const byte GsoTcpV4 = 1;
    private const byte GsoTcpV6 = 4;
    private long _unsendable;
    private long _readErrors;

    public TapUplink(Vfr vfr, TapDevice tap, string name = "uplink")
    {
        _tap = tap;
        Port = vfr.Attach(name, this);
        _reader = new Thread(ReadLoop) { IsBackground = true, Name = $"tap {tap.Name}" };
        _reader.Start();
    }

    public VfrPort Port { get; }

    /// <summary>Frames refused: an offload (GSO, a blank checksum) on a frame that is not TCP/UDP over IP.</summary>
    public long Unsendable => Interlocked.Read(ref _unsendable);

    public long ReadErrors => Interlocked.Read(ref _readErrors);

    public bool Deliver(NetPacket packet)
    {
        if (packet.IsGso && !_tap.VnetHeader)
        {
            List<NetPacket>? segments = NetSegmenter.Segment(packet);
            if (segments is null)
            {
                Interlocked.Increment(ref _unsendable);
                return false;
            }

            bool all = true;
            foreach (NetPacket s in segments)
            {
                all &= Deliver(s);
            }

            return all;
        }

        byte[]? frame = _tap.VnetHeader ? WithVnetHeader(packet) : Complete(packet);
        if (frame is null)
        {
            Interlocked.Increment(ref _unsendable);
            return false;
        }

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

    /// <summary>Without a virtio header: the frame (not GSO) with its checksum complete.</summary>
    private static byte[]? Complete(NetPacket packet) =>
        (packet.Offload & NetOffload.CsumBlank) != 0 ? NetChecksum.Filled(packet.Frame) : packet.Frame;

    /// <summary>struct virtio_net_hdr (little-endian) and the frame; null when an offload asks for what the frame is not.</summary>
    private static byte[]? WithVnetHeader(NetPacket packet)
    {
        byte[] frame = packet.Frame;
        int start = 0;
        int offset = 0;
        int header = 0;
        byte flags = 0;
        if (packet.IsGso || (packet.Offload & NetOffload.CsumBlank) != 0)
        {
            if (NetChecksum.PartialSeeded(frame) is not { } seeded)
            {
                return null;
            }

            (frame, start, offset, header, _) = seeded;
            flags = NeedsCsum;
        }

        var buffer = new byte[VnetHeaderSize + frame.Length];
        buffer[0] = flags;
        buffer[1] = !packet.IsGso ? (byte)0 : packet.GsoType == Abi.NetifExtra.GsoTypeTcpV6 ? GsoTcpV6 : GsoTcpV4;
        BinaryPrimitives.WriteUInt16LittleEndian(buffer.AsSpan(2), (ushort)header);
        BinaryPrimitives.WriteUInt16LittleEndian(buffer.AsSpan(4), packet.IsGso ? packet.GsoSize : (ushort)0);
        BinaryPrimitives.WriteUInt16LittleEndian(buffer.AsSpan(6), (ushort)start);
        BinaryPrimitives.WriteUInt16LittleEndian(buffer.AsSpan(8), (ushort)offset);
        frame.CopyTo(buffer, VnetHeaderSize);
        return buffer;
    }

    private void ReadLoop()
    {
        var buffer = new byte[VnetHeaderSize + NetPacket.MaxFrame];
        int skip = _tap.VnetHeader ? VnetHeaderSize : 0; // the kernel's side has no offloads on: its frames are complete
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

            if (n > skip)
            {
                Port.Send(new NetPacket(buffer[skip..n], NetOffload.DataValidated));
            }
        }
    }
}
