/*
 * pausable - a guest for the host to pause mid-run, read its context, and unpause.
 *
 * vCPU 0 counts in a loop that never leaves the VM on its own, looking at its console's in ring now and then, until
 * the host types a line. With vcpus=2, vCPU 1 first comes up and sits in SCHEDOP_poll on an IPI port (blocked, events
 * masked); when the line arrives vCPU 0 sends it the IPI and waits for it to wake. Then it prints what it counted and
 * SUCCESS. It has no time limit of its own: the host pauses and unpauses it at any point, then types the line.
 *
 * Expected console:
 *   pausable: counting (vcpus=N)
 *   [PASS] vCPU 1 blocked in SCHEDOP_poll            (vcpus=2)
 *   pausable: got a line after <count> rounds
 *   [PASS] vCPU 1 woke                               (vcpus=2)
 *   Test result: SUCCESS
 */
#include "guest.h"
#include "hypercall.h"

#define HC_update_va_mapping  14
#define HC_vcpu_op            24
#define HC_event_channel_op   32
#define VCPUOP_initialise      0
#define VCPUOP_up              1
#define VCPUOP_is_up           3
#define EVTCHNOP_send          4
#define EVTCHNOP_bind_ipi      7
#define SCHEDOP_poll           3
#define FLAT_KERNEL_CS    0xe033
#define FLAT_KERNEL_SS    0xe02b
#define UVMF_INVLPG            2
#define CONSOLE_VA      0x3fe000UL
#define SHARED_INFO_VA  0x3ff000UL
#define PTE_FLAGS          0x23UL   /* present, writable, accessed */

struct xencons_interface {
    char in[1024];
    char out[2048];
    uint32_t in_cons, in_prod, out_cons, out_prod;
};

static volatile struct shared_info *const shared = (volatile struct shared_info *)SHARED_INFO_VA;
static volatile unsigned long started, woken;
static uint32_t ipi_port;
static uint8_t secondary_stack[8192] __attribute__((aligned(16)));
static struct vcpu_guest_context ctx;

static unsigned long mfn_of(unsigned long va) { return ((const unsigned long *)start_info->mfn_list)[va >> 12]; }
static long evtchn(int cmd, void *arg) { return hypercall2(HC_event_channel_op, cmd, arg); }
static long vcpu_op(int cmd, int vcpu, void *arg) { return hypercall3(HC_vcpu_op, cmd, vcpu, arg); }
static bool ipi_pending(void) { return (shared->evtchn_pending[ipi_port / 64] >> (ipi_port % 64)) & 1; }

/* vCPU 1: events masked, blocked in SCHEDOP_poll on the IPI port until vCPU 0 sends it. */
void secondary_main(void)
{
    shared->vcpu_info[1].evtchn_upcall_mask = 1;
    struct { uint32_t *ports; uint32_t nr_ports; uint64_t timeout; } poll = { &ipi_port, 1, 0 };
    started = 1;
    while ( !ipi_pending() )
        hc_sched_op(SCHEDOP_poll, &poll);
    __atomic_and_fetch(&shared->evtchn_pending[ipi_port / 64], ~(1UL << (ipi_port % 64)), __ATOMIC_SEQ_CST);
    woken = 1;
    for ( ;; )
        hc_sched_op(SCHEDOP_poll, &poll);
}

void test_main(void)
{
    if ( hypercall3(HC_update_va_mapping, SHARED_INFO_VA, (start_info->shared_info & ~0xfffUL) | PTE_FLAGS, UVMF_INVLPG) != 0
         || hypercall3(HC_update_va_mapping, CONSOLE_VA, (start_info->console.domU.mfn << 12) | PTE_FLAGS, UVMF_INVLPG) != 0 )
        panic("cannot map shared_info and the console page");
    volatile struct xencons_interface *cons = (volatile struct xencons_interface *)CONSOLE_VA;
    struct { uint32_t port; } cons_send = { start_info->console.domU.evtchn };

    bool two = vcpu_op(VCPUOP_is_up, 1, NULL) >= 0;
    printk("pausable: counting (vcpus=%d)\n", two ? 2 : 1);
    if ( two )
    {
        struct { uint32_t vcpu, port; } ipi = { 1, 0 };
        if ( evtchn(EVTCHNOP_bind_ipi, &ipi) != 0 )
            panic("bind_ipi to vCPU 1 failed");
        ipi_port = ipi.port;
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
        if ( vcpu_op(VCPUOP_initialise, 1, &ctx) != 0 || vcpu_op(VCPUOP_up, 1, NULL) != 0 )
            panic("cannot bring vCPU 1 up");
        while ( !started )
            sched_yield();
        test_success("vCPU 1 blocked in SCHEDOP_poll");
    }

    /* Count without leaving the VM; only a kick (or the host's pause) takes this vCPU out. */
    unsigned long rounds = 0;
    bool line = false;
    while ( !line )
    {
        for ( int i = 0; i < 4096; i++ )
        {
            rounds++;
            asm volatile ("" : "+r" (rounds) : : "memory");
        }
        uint32_t c = cons->in_cons, p = cons->in_prod;
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        while ( c != p )
        {
            char ch = cons->in[c++ % sizeof(cons->in)];
            line |= ch == '\n' || ch == '\r';
        }
        __atomic_thread_fence(__ATOMIC_RELEASE);
        if ( cons->in_cons != c )
        {
            cons->in_cons = c;
            evtchn(EVTCHNOP_send, &cons_send);
        }
    }
    printk("pausable: got a line after %lu rounds\n", rounds);

    if ( two )
    {
        struct { uint32_t port; } send = { ipi_port };
        if ( evtchn(EVTCHNOP_send, &send) != 0 )
            panic("cannot send the IPI");
        while ( !woken )
            sched_yield();
        test_success("vCPU 1 woke");
    }

    test_exit();
}
