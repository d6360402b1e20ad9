using Iced.Intel;

namespace XenSharp.Hypervisor.Pv.Emulation;

/// <summary>
/// The instruction decoder of the current thread, reused for every decode the thread makes, so that fetching the
/// instruction behind a #GP, #UD or write fault allocates nothing. A vCPU runs on its own thread, so this is the
/// vCPU's buffer and decoders. Invariant: a decode is finished (its <see cref="Instruction"/> copied out) before the
/// thread starts another, so one buffer per thread is enough.
/// </summary>
internal sealed class VcpuThreadDecoder : CodeReader
{
    /// <summary>The longest x86 instruction.</summary>
    public const int MaxLength = 15;

    [ThreadStatic]
    private static VcpuThreadDecoder? t_current;

    private readonly byte[] _bytes = new byte[MaxLength];
    private Decoder? _decoder16;
    private Decoder? _decoder32;
    private Decoder? _decoder64;
    private int _position;
    private int _length;

    private VcpuThreadDecoder()
    {
    }

    public static VcpuThreadDecoder Current => t_current ??= new VcpuThreadDecoder();

    /// <summary>Where the caller puts the instruction bytes before <see cref="Decoder"/>.</summary>
    public Span<byte> Bytes => _bytes;

    /// <summary>A decoder of <paramref name="bitness"/>-bit code reading the first <paramref name="length"/> of <see cref="Bytes"/> at <paramref name="ip"/>.</summary>
    public Decoder Decoder(int bitness, int length, ulong ip)
    {
        _position = 0;
        _length = length;
        Decoder decoder = bitness switch
        {
            16 => _decoder16 ??= Iced.Intel.Decoder.Create(16, this),
            32 => _decoder32 ??= Iced.Intel.Decoder.Create(32, this),
            _ => _decoder64 ??= Iced.Intel.Decoder.Create(64, this),
        };
        decoder.IP = ip;
        return decoder;
    }

    public override int ReadByte() => _position < _length ? _bytes[_position++] : -1;
}
