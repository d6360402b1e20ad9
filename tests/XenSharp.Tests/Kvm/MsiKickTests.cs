using System.Diagnostics;
using XenSharp.Kvm;
using Xunit;
using Xunit.Abstractions;

namespace XenSharp.Tests.Kvm;

public class MsiKickTests(ITestOutputHelper output)
{
    private const int Vector = 0x40;
    private const ulong HandlerAddress = 0x11000;
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(5);

    // Enables the x2APIC (IA32_APIC_BASE |= EN|EXTD) and the APIC (SVR = 0x1ff), sti, reports ready on port 0x16, then
    // spins in ring 0 until the interrupt arrives (as kvm-probes/irq.c).
    private static readonly byte[] Spinner =
    [
        0xb9, 0x1b, 0x00, 0x00, 0x00,       // mov ecx, 0x1b
        0x0f, 0x32,                         // rdmsr
        0x0d, 0x00, 0x0c, 0x00, 0x00,       // or eax, 0xc00
        0x0f, 0x30,                         // wrmsr
        0xb9, 0x0f, 0x08, 0x00, 0x00,       // mov ecx, 0x80f
        0xb8, 0xff, 0x01, 0x00, 0x00,       // mov eax, 0x1ff
        0x31, 0xd2,                         // xor edx, edx
        0x0f, 0x30,                         // wrmsr
        0xfb,                               // sti
        0xe6, 0x16,                         // out 0x16, al
        0xeb, 0xfe,                         // jmp $
    ];

    [KvmFact]
    public void Signal_msi_from_another_thread_interrupts_a_spinning_vcpu()
    {
        var guest = TinyGuest.Create(Spinner, irqchip: true);
        byte[] handler = [0xe6, 0x15, 0xf4]; // out 0x15, al; hlt
        handler.CopyTo(guest.GuestBytes(HandlerAddress, handler.Length));
        guest.SetGate(Vector, HandlerAddress);

        // Before the guest software-enables its APIC the MSI is dropped; sending one now only takes JIT and first-call
        // costs out of the latency measured below.
        guest.Vm.SignalMsi(0xfee00000, Vector);

        VcpuExit first = default, second = default;
        long handledAt = 0;
        Exception? failure = null;
        using var ready = new ManualResetEventSlim();
        using var done = new ManualResetEventSlim();
        var vcpuThread = new Thread(() =>
        {
            try
            {
                first = RunPastInterruptions(guest.Vcpu);
                ready.Set();
                second = RunPastInterruptions(guest.Vcpu);
                handledAt = Stopwatch.GetTimestamp();
            }
            catch (Exception e)
            {
                failure = e;
                ready.Set();
            }

            done.Set();
        })
        {
            IsBackground = true, // a vCPU stuck in the guest must not keep the test process alive
            Name = "vcpu0",
        };
        vcpuThread.Start();

        bool finished = false;
        try
        {
            Assert.True(ready.Wait(Timeout), "the guest never reported ready on port 0x16");
            Assert.Null(failure);
            Assert.True(first.Reason == VcpuExitReason.Io && first.IoPort == 0x16, $"expected ready on port 0x16, got {first}");

            long sentAt = Stopwatch.GetTimestamp();
            guest.Vm.SignalMsi(0xfee00000, Vector);
            if (!done.Wait(Timeout))
            {
                // Watchdog: one more kick in case the first raced with something; then give up.
                guest.Vm.SignalMsi(0xfee00000, Vector);
                Assert.True(done.Wait(TimeSpan.FromSeconds(1)), "KVM_SIGNAL_MSI did not interrupt the spinning vCPU within 5 s");
            }

            finished = true;
            Assert.Null(failure);
            Assert.True(second.Reason == VcpuExitReason.Io && second.IoPort == 0x15,
                $"expected the vector 0x40 handler's out 0x15, got {second}" +
                (second.IoPort == TinyGuest.StrayVectorPort ? " (a different vector was delivered)" : ""));
            output.WriteLine($"KVM_SIGNAL_MSI to the handler's exit: {Stopwatch.GetElapsedTime(sentAt, handledAt).TotalMicroseconds:F0} us (kind {guest.System.Kind})");
        }
        finally
        {
            // Tearing down a VM whose vCPU thread is still inside KVM_RUN would unmap kvm_run under it: leak it instead.
            if (finished)
            {
                guest.Dispose();
            }
        }
    }

    private static VcpuExit RunPastInterruptions(KvmVcpu vcpu)
    {
        VcpuExit exit;
        do
        {
            exit = vcpu.Run();
        }
        while (exit.Reason == VcpuExitReason.Interrupted);

        return exit;
    }
}
