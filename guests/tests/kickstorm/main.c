/*
 * kickstorm - many kicks at a vCPU that keeps entering and leaving the hypervisor.
 *
 * vCPU 1 sends an IPI event to vCPU 0 as fast as it can, and vCPU 0 has a 1 ms periodic timer, so vCPU 0 is
 * interrupted (a kick: an MSI to the stub's kick vector) hundreds of times a second while it alternates hypercalls
 * that exit to the host (xen_version, update_va_mapping: the path Mini-OS and Linux take) with short spins. On hardware KVM
 * each kick is an interrupt KVM injects at VM entry; this is the path on which QEMU's nested SVM delivered the kick
 * a second time, in ring 0 (docs/architecture.md, "The stub"). A run that reaches its verdict survived them.
 * Command line: seconds=N (system time to run, default 5).
 */
#include "guest.h"
#include "hypercall.h"

#define HC_set_callbacks       4
#define HC_update_va_mapping  14
#define HC_vcpu_op            24
#define HC_event_channel_op   32

#define VCPUOP_initialise          0
#define VCPUOP_up                  1
#define VCPUOP_is_up               3
#define VCPUOP_set_periodic_timer  6
#define VCPUOP_stop_periodic_timer 7

#define EVTCHNOP_bind_virq 1
#define EVTCHNOP_send      4
#define EVTCHNOP_bind_ipi  7
#define VIRQ_TIMER         0

#define FLAT_KERNEL_CS 0xe033
#define FLAT_KERNEL_SS 0xe02b
#define UVMF_INVLPG    2

#define _PAGE_PRESENT  0x001UL
#define _PAGE_RW       0x002UL
#define _PAGE_ACCESSED 0x020UL
#define _PAGE_DIRTY    0x040UL
#define SHARED_INFO_VA 0x3ff000UL
#define MS 1000000ULL


static volatile struct shared_info *const shared = (volatile struct shared_info *)SHARED_INFO_VA;
static volatile struct vcpu_info *vi;
static volatile unsigned long events[4096];
static uint32_t ipi_port;
static volatile unsigned long sends, started, stop;
static uint8_t secondary_stack[8192] __attribute__((aligned(16)));
static uint8_t scratch[4096] __attribute__((aligned(4096)));
static struct vcpu_guest_context ctx;

static unsigned long mfn_of(unsigned long va) { return ((const unsigned long *)start_info->mfn_list)[va >> 12]; }
static uint64_t now(void) { return pvclock_read(&vi->time); }
static long evtchn(int cmd, void *arg) { return hypercall2(HC_event_channel_op, cmd, arg); }
static long vcpu_op(int cmd, int vcpu, void *arg) { return hypercall3(HC_vcpu_op, cmd, vcpu, arg); }

void do_event(void) { evtchn_2l_consume(shared, vi, events); }

void secondary_main(void)
{
    struct { uint32_t port; } send = { ipi_port };
    started = 1;
    while ( !stop )
    {
        if ( evtchn(EVTCHNOP_send, &send) == 0 )
            sends++;
        for ( int i = 0; i < 64; i++ )
            asm volatile ("pause");
    }
    started = 2;
    for ( ;; )
        hc_sched_op(SCHEDOP_block, NULL);
}

void test_main(void)
{
    char arg[16];
    unsigned long seconds = 5;
    if ( cmdline_get("seconds", arg, sizeof(arg)) && arg[0] >= '1' && arg[0] <= '9' )
    {
        seconds = 0;
        for ( const char *p = arg; *p >= '0' && *p <= '9'; p++ )
            seconds = seconds * 10 + (unsigned long)(*p - '0');
    }

    unsigned long pte = (start_info->shared_info & ~0xfffUL) | _PAGE_PRESENT | _PAGE_RW | _PAGE_ACCESSED;
    if ( hypercall3(HC_update_va_mapping, SHARED_INFO_VA, pte, UVMF_INVLPG) != 0 )
        panic("cannot map shared_info");
    vi = &shared->vcpu_info[0];
    if ( hypercall3(HC_set_callbacks, event_entry, 0, 0) != 0 )
        panic("set_callbacks failed");

    struct { uint32_t vcpu, port; } ipi = { 0, 0 };
    test_check(evtchn(EVTCHNOP_bind_ipi, &ipi) == 0, "bind_ipi to vCPU 0: port %u", ipi.port);
    ipi_port = ipi.port;
    struct { uint32_t virq, vcpu, port; } bv = { VIRQ_TIMER, 0, 0 };
    test_check(evtchn(EVTCHNOP_bind_virq, &bv) == 0, "bind VIRQ_TIMER: port %u", bv.port);
    uint64_t period = 1 * MS;
    test_check(vcpu_op(VCPUOP_set_periodic_timer, 0, &period) == 0, "a 1 ms periodic timer on vCPU 0");
    vi->evtchn_upcall_mask = 0;

    memset(&ctx, 0, sizeof(ctx));
    ctx.flags = VGCF_in_kernel;
    ctx.rip = (unsigned long)secondary_entry;
    ctx.rsp = (unsigned long)secondary_stack + sizeof(secondary_stack) - 8;
    ctx.cs = FLAT_KERNEL_CS;
    ctx.ss = FLAT_KERNEL_SS;
    ctx.rflags = 0x200;
    ctx.kernel_ss = FLAT_KERNEL_SS;
    ctx.kernel_sp = ctx.rsp;
    ctx.ctrlreg[3] = mfn_of(start_info->pt_base) << 12;
    test_check(vcpu_op(VCPUOP_initialise, 1, &ctx) == 0 && vcpu_op(VCPUOP_up, 1, NULL) == 0, "vCPU 1 up");
    uint64_t wait = now() + 5000 * MS;
    while ( !started && now() < wait )
        hc_sched_op(SCHEDOP_yield, NULL);
    test_check(started, "vCPU 1 runs");

    /* vCPU 0: exits to the host and spins, events on, until the time is up. */
    unsigned long spte = (mfn_of((unsigned long)scratch) << 12) | _PAGE_PRESENT | _PAGE_RW | _PAGE_ACCESSED | _PAGE_DIRTY;
    unsigned long rounds = 0, refused = 0;
    uint64_t end = now() + seconds * 1000 * MS;
    while ( now() < end )
    {
        hc_xen_version(XENVER_version, NULL);
        if ( hypercall3(HC_update_va_mapping, (unsigned long)scratch, spte, UVMF_INVLPG) != 0 )
            refused++;
        scratch[rounds & 4095]++;
        for ( int i = 0; i < 32; i++ )
            asm volatile ("pause");
        rounds++;
    }
    stop = 1;
    vcpu_op(VCPUOP_stop_periodic_timer, 0, NULL);
    wait = now() + 5000 * MS;
    while ( started != 2 && now() < wait )
        hc_sched_op(SCHEDOP_yield, NULL);

    test_check(refused == 0, "update_va_mapping of a data page: %lu of %lu refused", refused, rounds);
    test_check(events[ipi_port] > 0, "IPIs taken while running: %lu (of %lu sends)", events[ipi_port], sends);
    test_check(events[bv.port] > 0, "timer ticks taken: %lu", events[bv.port]);
    printk("kickstorm: %lu rounds of hypercalls in %lu s, %lu IPIs and %lu ticks delivered\n",
           rounds, seconds, events[ipi_port], events[bv.port]);
}
