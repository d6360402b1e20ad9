namespace XenSharp.Toolstack.Config;

/// <summary>
/// A vif's credit-based rate limit as libxl keeps it: <see cref="BytesPerInterval"/> may be sent in each
/// <see cref="IntervalMicroseconds"/> (xl's `rate=10Mb/s@20ms`; the interval defaults to 50 ms).
/// </summary>
public sealed record VifRate(ulong BytesPerInterval, uint IntervalMicroseconds);
