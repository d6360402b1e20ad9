using XenSharp.Toolstack.Config;
using XenSharp.Toolstack.Run;
using Xunit;

namespace XenSharp.Tests.Run;

/// <summary>The configs' memory against the machine pool, before KVM is opened.</summary>
public class PoolFitTests
{
    private static DomainConfig Config(string file, int memoryMiB, int? maxMemoryMiB = null)
    {
        var c = new DomainConfig { Name = Path.GetFileNameWithoutExtension(file), Kernel = "/k", MemoryMiB = memoryMiB, SourcePath = file };
        return maxMemoryMiB is int max ? c with { MaxMemoryMiB = max } : c;
    }

    [Theory]
    [InlineData(16, 14)] // the M2P takes whole 2 MiB pages
    [InlineData(64, 62)]
    [InlineData(2048, 2044)]
    [InlineData(4096, 4088)]
    public void DomainsGetThePoolLessItsM2p(int poolMiB, long domainMiB)
    {
        Assert.Equal(domainMiB, PoolFit.DomainMiB(poolMiB));
    }

    [Fact]
    public void OneConfigTooLargeIsNamedWithTheSizes()
    {
        var error = Assert.Throws<ConfigException>(() => PoolFit.Check([Config("big.cfg", 128)], 64));

        Assert.Equal("big.cfg: memory=128 MiB does not fit in the 64 MiB machine pool (62 MiB for domains; see --pool-mb)", error.Message);
    }

    [Fact]
    public void TheConfigThatNoLongerFitsIsNamedWithWhatTheOthersTake()
    {
        DomainConfig[] configs = [Config("a.cfg", 100), Config("b.cfg", 100), Config("c.cfg", 100)];

        var error = Assert.Throws<ConfigException>(() => PoolFit.Check(configs, 256));

        Assert.Equal(
            "c.cfg: memory=100 MiB does not fit in the 256 MiB machine pool (254 MiB for domains, 200 MiB of which the configs before it take; see --pool-mb)",
            error.Message);
    }

    [Fact]
    public void ConfigsThatFillThePoolExactlyFit()
    {
        PoolFit.Check([Config("a.cfg", 62)], 64);
        PoolFit.Check([Config("a.cfg", 30), Config("b.cfg", 32)], 64);
    }

    /// <summary>maxmem is a ceiling the guest may balloon towards, not an allocation: only memory counts.</summary>
    [Fact]
    public void MaxmemIsNotCounted()
    {
        PoolFit.Check([Config("a.cfg", 32, maxMemoryMiB: 4096)], 64);
    }
}
