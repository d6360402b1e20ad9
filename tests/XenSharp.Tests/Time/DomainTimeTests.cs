using System.Buffers.Binary;
using XenSharp.Abi;
using XenSharp.Hypervisor.Time;
using Xunit;

namespace XenSharp.Tests.Time;

public class DomainTimeTests
{
    private readonly FakeClock _clock = new();

    [Fact]
    public void SystemTimeIsTheGuestFormulaFromTheAnchor()
    {
        var sys = new SystemClock(_clock);
        var t = new DomainTime(sys);
        _clock.Advance(5_000_000); // the domain is created 5 ms after the hypervisor
        t.Calibrate(new TscSample(1_000_000, _clock.NowNanoseconds), 2_000_000_000);
        Assert.Equal(5_000_000UL, t.SystemAnchor);
        Assert.Equal(5_000_000UL, t.SystemTimeAt(1_000_000));
        Assert.Equal(5_000_000UL + 1_000_000_000, t.SystemTimeAt(1_000_000 + 2_000_000_000));
        Assert.Equal(4_999_999UL, t.SystemTimeAt(999_998)); // a TSC read before the anchor still maps, backwards
        Assert.Equal(4_500_000UL, t.SystemTimeAt(0));
    }

    [Fact]
    public void UncalibratedTimeComesFromTheHostClock()
    {
        var t = new DomainTime(new SystemClock(_clock));
        _clock.Advance(123);
        Assert.Equal(123UL, t.Now(new TscSample(999, _clock.NowNanoseconds)));
    }

    [Fact]
    public void TimeInfoIsWrittenWithAnEvenVersionAndTheScale()
    {
        var t = new DomainTime(new SystemClock(_clock));
        t.Calibrate(new TscSample(77, _clock.NowNanoseconds), 2_596_142_000);
        byte[] info = new byte[SharedInfoLayout.TimeInfoSize];
        t.WriteTimeInfo(info);
        Assert.Equal(2u, BinaryPrimitives.ReadUInt32LittleEndian(info));
        Assert.Equal(77UL, BinaryPrimitives.ReadUInt64LittleEndian(info.AsSpan(SharedInfoLayout.TimeTscTimestamp)));
        Assert.Equal(t.Scale.Mul, BinaryPrimitives.ReadUInt32LittleEndian(info.AsSpan(SharedInfoLayout.TimeTscToSystemMul)));
        Assert.Equal(-1, (sbyte)info[SharedInfoLayout.TimeTscShift]);
        Assert.Equal(SharedInfoLayout.TimeFlagTscStable, info[SharedInfoLayout.TimeFlags]);

        BinaryPrimitives.WriteUInt32LittleEndian(info, 7); // a guest scribbled an odd version: the next update still ends even
        t.WriteTimeInfo(info);
        Assert.Equal(10u, BinaryPrimitives.ReadUInt32LittleEndian(info));
    }

    [Fact]
    public void WallClockIsUtcAtSystemTimeZero()
    {
        var start = new DateTimeOffset(2026, 12, 4, 18, 0, 0, 250, TimeSpan.Zero);
        var t = new DomainTime(new SystemClock(_clock, start));
        byte[] shared = new byte[4096];
        t.WriteWallClock(shared);
        Assert.Equal(2u, BinaryPrimitives.ReadUInt32LittleEndian(shared.AsSpan(SharedInfoLayout.WcVersion)));
        Assert.Equal((uint)start.ToUnixTimeSeconds(), BinaryPrimitives.ReadUInt32LittleEndian(shared.AsSpan(SharedInfoLayout.WcSec)));
        Assert.Equal(250_000_000u, BinaryPrimitives.ReadUInt32LittleEndian(shared.AsSpan(SharedInfoLayout.WcNsec)));
        Assert.Equal(0u, BinaryPrimitives.ReadUInt32LittleEndian(shared.AsSpan(SharedInfoLayout.WcSecHi)));
    }

    [Fact]
    public void RunstateAccumulatesTimePerState()
    {
        var r = new VcpuRunstate(RunstateLayout.Offline, 100);
        r.Change(RunstateLayout.Running, 150);
        r.Change(RunstateLayout.Blocked, 400);
        r.Change(RunstateLayout.Running, 300); // a clock that went back counts nothing
        byte[] b = new byte[RunstateLayout.Size];
        r.WriteTo(b, elapsedUntil: 1000);
        Assert.Equal(RunstateLayout.Running, BinaryPrimitives.ReadInt32LittleEndian(b));
        Assert.Equal(400UL, BinaryPrimitives.ReadUInt64LittleEndian(b.AsSpan(RunstateLayout.StateEntryTime)));
        ulong T(int s) => BinaryPrimitives.ReadUInt64LittleEndian(b.AsSpan(RunstateLayout.Time + (8 * s)));
        Assert.Equal(250UL + 600, T(RunstateLayout.Running));
        Assert.Equal(0UL, T(RunstateLayout.Blocked));
        Assert.Equal(50UL, T(RunstateLayout.Offline));
    }
}
