/*
 * bench-timer - timer and event delivery, timed (bench/ figure (d)).
 *
 * Phase 1: n times set_timer_op(now + 1 ms), then sleep in SCHEDOP_block until VIRQ_TIMER arrives; the guest
 * measures with its own clock (vcpu_time_info) how late each wake-up was, and prints the median, p90 and max.
 * Phase 2: 20*n EVTCHNOP_send to an IPI port of its own, each delivered as an upcall on the way back (event_entry,
 * then the iret hypercall); phase 3: as many null hypercalls (xen_version), the same-run baseline. The host times
 * phases 2 and 3 from the marker lines.
 *
 * Console: TIMER-LATE median=<ns> p90=<ns> max=<ns> n=<n>, EVENT-BEGIN/END, NULL-BEGIN/END, then the verdict.
 * Command line: n=<count> (1..10000, default 200).
 */
#include "guest.h"
#include "hypercall.h"

#define HC_set_callbacks       4
#define HC_update_va_mapping  14
#define HC_set_timer_op       15
#define HC_vcpu_op            24
#define HC_event_channel_op   32
#define VCPUOP_stop_periodic_timer 7
#define EVTCHNOP_bind_virq     1
#define EVTCHNOP_send          4
#define EVTCHNOP_bind_ipi      7
#define VIRQ_TIMER             0
#define SHARED_INFO_VA         0x3ff000UL
#define MAX_N                  10000

static volatile struct shared_info *const shared = (volatile struct shared_info *)SHARED_INFO_VA;
static volatile struct vcpu_info *vi;
static volatile unsigned long events[4096];
static uint64_t late[MAX_N];

static uint64_t now(void) { return pvclock_read(&vi->time); }

void do_event(void) { evtchn_2l_consume(shared, vi, events); }

static void events_on(void)
{
    vi->evtchn_upcall_mask = 0;
    asm volatile ("" ::: "memory");
    if ( vi->evtchn_upcall_pending )
        hc_xen_version(XENVER_version, NULL);
}

static void sort(uint64_t *a, unsigned long n)
{
    for ( unsigned long i = 1; i < n; i++ )
        for ( unsigned long j = i; j > 0 && a[j - 1] > a[j]; j-- )
        {
            uint64_t t = a[j]; a[j] = a[j - 1]; a[j - 1] = t;
        }
}

void test_main(void)
{
    char arg[16];
    unsigned long n = 200;
    if ( cmdline_get("n", arg, sizeof(arg)) )
    {
        n = 0;
        for ( const char *p = arg; *p >= '0' && *p <= '9' && n <= MAX_N; p++ )
            n = n * 10 + (unsigned long)(*p - '0');
        if ( n == 0 || n > MAX_N )
        {
            test_error("n=%s: want 1..%d", arg, MAX_N);
            test_exit();
        }
    }

    unsigned long pte = (start_info->shared_info & ~0xfffUL) | 0x23;
    if ( hypercall3(HC_update_va_mapping, SHARED_INFO_VA, pte, 2) != 0 )
        panic("cannot map shared_info");
    vi = &shared->vcpu_info[0];
    if ( hypercall3(HC_set_callbacks, event_entry, 0, 0) != 0 )
        panic("set_callbacks failed");
    struct { uint32_t virq, vcpu, port; } bv = { VIRQ_TIMER, 0, 0 };
    struct { uint32_t vcpu, port; } ipi = { 0, 0 };
    if ( hypercall2(HC_event_channel_op, EVTCHNOP_bind_virq, &bv) || hypercall2(HC_event_channel_op, EVTCHNOP_bind_ipi, &ipi) )
        panic("cannot bind the timer and IPI ports");
    hypercall3(HC_vcpu_op, VCPUOP_stop_periodic_timer, 0, NULL);
    events_on();

    /* Phase 1: timer lateness. Test with events masked; SCHEDOP_block unmasks and sleeps if nothing is pending. */
    bool early = false;
    for ( unsigned long i = 0; i < n; i++ )
    {
        unsigned long before = events[bv.port];
        uint64_t deadline = now() + 1000000;
        hypercall1(HC_set_timer_op, deadline);
        vi->evtchn_upcall_mask = 1;
        while ( events[bv.port] == before )
        {
            hc_sched_op(SCHEDOP_block, NULL);
            vi->evtchn_upcall_mask = 1;
        }
        events_on();
        uint64_t t = now();
        early |= t < deadline;
        late[i] = t >= deadline ? t - deadline : 0;
    }
    sort(late, n);
    printk("TIMER-LATE median=%lu p90=%lu max=%lu n=%lu\n", late[n / 2], late[n * 9 / 10], late[n - 1], n);
    test_check(!early, "no timer woke its vCPU before the deadline");

    /* Phase 2: event send + upcall; phase 3: null hypercalls. */
    unsigned long m = 20 * n, before = events[ipi.port];
    struct { uint32_t port; } send = { ipi.port };
    printk("EVENT-BEGIN\n");
    for ( unsigned long i = 0; i < m; i++ )
        hypercall2(HC_event_channel_op, EVTCHNOP_send, &send);
    printk("EVENT-END\n");
    test_check(events[ipi.port] == before + m, "every send was delivered as an upcall (%lu of %lu)", events[ipi.port] - before, m);
    printk("NULL-BEGIN\n");
    for ( unsigned long i = 0; i < m; i++ )
        hc_xen_version(XENVER_version, NULL);
    printk("NULL-END\n");
}
