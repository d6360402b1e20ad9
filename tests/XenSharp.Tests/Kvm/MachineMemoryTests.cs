using XenSharp.Kvm;
using Xunit;

namespace XenSharp.Tests.Kvm;

public class MachineMemoryTests
{
    [Fact]
    public void Discard_frees_pages_that_then_read_as_zeros()
    {
        using var memory = MachineMemory.Create(0x10000);
        memory.GetSpan(0, 0x10000).Fill(0xab);

        memory.Discard(0x4000, 0x2000);

        Span<byte> all = memory.GetSpan(0, 0x10000);
        Assert.True(all[..0x4000].IndexOfAnyExcept((byte)0xab) < 0, "bytes before the range changed");
        Assert.True(all[0x4000..0x6000].IndexOfAnyExcept((byte)0) < 0, "discarded range is not zero");
        Assert.True(all[0x6000..].IndexOfAnyExcept((byte)0xab) < 0, "bytes after the range changed");
        Assert.Equal(0x10000ul, memory.Size);
    }

    [Fact]
    public void Size_must_be_a_whole_number_of_pages()
    {
        var e = Assert.Throws<ArgumentException>(() => MachineMemory.Create(4097));
        Assert.Contains("4096", e.Message);
        Assert.Throws<ArgumentException>(() => MachineMemory.Create(0));
    }

    [Fact]
    public void Large_pool_is_sparse()
    {
        using var memory = MachineMemory.Create(4UL << 30);
        Span<byte> last = memory.GetSpan(memory.Size - 4096, 4096);
        last[4095] = 1;
        Assert.Equal(1, memory.GetSpan(memory.Size - 1, 1)[0]);
    }

    [Fact]
    public void Bounds_are_checked_without_overflow()
    {
        using var memory = MachineMemory.Create(0x2000);
        Assert.Throws<ArgumentOutOfRangeException>(() => memory.GetSpan(0x1fff, 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => memory.GetSpan(ulong.MaxValue - 1, 16));
        Assert.Throws<ArgumentOutOfRangeException>(() => memory.GetSpan(0, -1));
        Assert.Throws<ArgumentOutOfRangeException>(() => memory.HostAddress(0x2000));
        Assert.Throws<ArgumentOutOfRangeException>(() => memory.HostAddress(0x1000, ulong.MaxValue));
        Assert.Throws<ArgumentOutOfRangeException>(() => memory.Discard(0x1000, 0x2000));
        Assert.Throws<ArgumentException>(() => memory.Discard(0x800, 0x1000));
        Assert.Equal(0, memory.GetSpan(0x2000, 0).Length);
        Assert.Equal(memory.HostAddress(0) + 0x1fff, memory.HostAddress(0x1fff));
    }

    [Fact]
    public void Disposed_memory_refuses_access()
    {
        var memory = MachineMemory.Create(0x1000);
        memory.Dispose();
        Assert.Throws<ObjectDisposedException>(() => memory.GetSpan(0, 1));
    }

    [KvmFact]
    public void Guest_sees_host_writes_and_discards_through_a_slot()
    {
        // out 0x14, al with al = byte at 0x100000 (mov al, [0x100000]); then again after the host discarded the page.
        byte[] code =
        [
            0x8a, 0x04, 0x25, 0x00, 0x00, 0x10, 0x00, // mov al, [0x100000]
            0xe6, 0x14,                               // out 0x14, al
            0xeb, 0xf5,                               // jmp back to the mov
        ];
        using var guest = TinyGuest.Create(code);
        guest.GuestBytes(0x100000, 1)[0] = 0x42;
        Assert.Equal(0x42ul, guest.Vcpu.Run().IoData);

        guest.Memory.Discard(TinyGuest.PoolOffset + 0x100000, 0x1000);

        Assert.Equal(0ul, guest.Vcpu.Run().IoData);
    }
}
