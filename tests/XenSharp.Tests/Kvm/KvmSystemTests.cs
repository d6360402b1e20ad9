using XenSharp.Kvm;
using Xunit;

namespace XenSharp.Tests.Kvm;

public class KvmSystemTests
{
    [Fact]
    public void Missing_device_is_reported_as_unavailable_in_one_sentence()
    {
        var e = Assert.Throws<KvmUnavailableException>(() => KvmSystem.Open("/nonexistent/kvm"));
        Assert.Equal("/nonexistent/kvm does not exist: this host has no KVM", e.Message);
    }

    [Theory]
    [InlineData(13, "no permission to open /dev/kvm (run as root or join the kvm group)")]
    [InlineData(1, "no permission to open /dev/kvm (run as root or join the kvm group)")]
    [InlineData(2, "/dev/kvm does not exist: this host has no KVM")]
    [InlineData(19, "/dev/kvm exists but no KVM driver answers it (is a kvm_* module loaded?)")]
    [InlineData(24, "cannot open /dev/kvm: EMFILE (24)")]
    public void Open_failures_read_as_one_sentence(int errno, string message) =>
        Assert.Equal(message, KvmSystem.Unavailable("/dev/kvm", errno).Message);

    [Fact]
    public void Kind_comes_from_the_loaded_module()
    {
        string root = Directory.CreateTempSubdirectory("xensharp-sysmodule").FullName;
        try
        {
            Assert.Equal(KvmKind.Unknown, KvmSystem.DetectKind(root));
            Directory.CreateDirectory(Path.Combine(root, "kvm_amd"));
            Assert.Equal(KvmKind.Amd, KvmSystem.DetectKind(root));
            Directory.CreateDirectory(Path.Combine(root, "kvm_pvm"));
            Assert.Equal(KvmKind.Pvm, KvmSystem.DetectKind(root));
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [KvmFact]
    public void Opens_with_api_version_12_and_knows_its_kind()
    {
        using var kvm = KvmSystem.Open();
        Assert.Equal(12, kvm.ApiVersion);
        Assert.Equal(KvmSystem.DetectKind(), kvm.Kind);
        Assert.True(kvm.VcpuMmapSize >= 4096);
    }

    [KvmFact]
    public void Supported_cpuid_has_the_basic_leaves()
    {
        using var kvm = KvmSystem.Open();
        IReadOnlyList<CpuidEntry> cpuid = kvm.GetSupportedCpuid();
        Assert.Contains(cpuid, e => e.Function == 0);
        Assert.Contains(cpuid, e => e.Function == 1);
        Assert.Contains(cpuid, e => e.Function == 0x80000001);
    }

    [KvmFact]
    public void Vm_reports_memory_slots_and_sync_regs()
    {
        using var kvm = KvmSystem.Open();
        using KvmVm vm = kvm.CreateVm();
        Assert.True(vm.MaxMemorySlots >= 32, $"MaxMemorySlots = {vm.MaxMemorySlots}");
        KvmVcpu vcpu = vm.CreateVcpu(0);
        Assert.Equal(vm.HasSyncRegisters, vcpu.UsesSyncRegisters);
    }

    [KvmFact]
    public void Memory_slots_can_be_replaced_after_deletion()
    {
        using var kvm = KvmSystem.Open();
        using var memory = MachineMemory.Create(0x400000);
        using KvmVm vm = kvm.CreateVm();
        vm.SetMemorySlot(1, 0x100000, 0x200000, memory.HostAddress(0, 0x200000));
        var e = Assert.Throws<KvmException>(() => vm.SetMemorySlot(1, 0x100000, 0x200000, memory.HostAddress(0x200000, 0x200000)));
        Assert.Equal("KVM_SET_USER_MEMORY_REGION", e.Ioctl);
        vm.DeleteMemorySlot(1);
        vm.SetMemorySlot(1, 0x100000, 0x200000, memory.HostAddress(0x200000, 0x200000));
    }
}
