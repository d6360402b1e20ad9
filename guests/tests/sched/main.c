/*
 * sched - what the scheduler gives one domain, read by the domain itself.
 *
 *   sched=spin secs=S        CPU-bound for S seconds of system time, events masked, periodic timer stopped; prints
 *                            "sample sys=<ns> run=<ns> runnable=<ns> entry=<ns>" every 20 ms of system time from
 *                            its own registered runstate area, as of its last state change (the time it held a
 *                            physical CPU, the time it waited for one, when that change was).
 *   sched=wake n=N ms=P      N times: a VIRQ_TIMER P ms ahead, SCHEDOP_block, and the upcall's entry time noted;
 *                            prints "wake latency=<ns>" (upcall entered - deadline) for each and
 *                            "wake median=<ns> max=<ns> at=<system time>" at the end.
 *   sched=yield n=N          N times SCHEDOP_yield; prints "yield n=<N> ns=<system time they took> shared_n=<yields
 *                            after it first waited for the CPU> shared_ns=<their time>". Two such domains on one
 *                            physical CPU switch at each yield once both run (bench/, the scheduler's cost).
 * The host test compares two domains' samples (a 1:3 share) or two runs' medians (warp); the guest only measures.
 */
#include "guest.h"
#include "hypercall.h"

#define HC_set_callbacks       4
#define HC_update_va_mapping  14
#define HC_set_timer_op       15
#define HC_event_channel_op   32
#define HC_vcpu_op            24

#define VCPUOP_register_runstate_memory_area 5
#define VCPUOP_stop_periodic_timer   7
#define EVTCHNOP_bind_virq      1
#define VIRQ_TIMER              0
#define SCHEDOP_block           1

#define _PAGE_PRESENT  0x001UL
#define _PAGE_RW       0x002UL
#define _PAGE_ACCESSED 0x020UL
#define SHARED_INFO_VA 0x3ff000UL
#define MS 1000000ULL
#define MAX_WAKES 256

struct runstate { int state; int pad; uint64_t entry; uint64_t time[4]; };

static volatile struct shared_info *const shared = (volatile struct shared_info *)SHARED_INFO_VA;
static volatile struct vcpu_info *vi;
static volatile unsigned long events[4096];
static volatile struct runstate area;
static unsigned int timer_port;
static volatile uint64_t upcall_at;
static uint64_t latency[MAX_WAKES];

static uint64_t now(void) { return pvclock_read(&vi->time); }

void do_event(void)
{
    unsigned long before = events[timer_port];
    evtchn_2l_consume(shared, vi, events);
    if ( events[timer_port] != before && upcall_at == 0 )
        upcall_at = now();
}

static long vcpu_op(int cmd, int vcpu, void *arg) { return hypercall3(HC_vcpu_op, cmd, vcpu, arg); }

static unsigned long number(const char *key, unsigned long fallback)
{
    char buf[24];
    if ( !cmdline_get(key, buf, sizeof(buf)) )
        return fallback;
    unsigned long v = 0;
    for ( const char *p = buf; *p >= '0' && *p <= '9'; p++ )
        v = v * 10 + (unsigned long)(*p - '0');
    return v;
}

/*
 * A consistent copy of the runstate area (the hypervisor may rewrite it as we read: reread until state_entry_time
 * holds still): the times as of its last state change, all on the hypervisor's clock.
 */
static void runstate_read(struct runstate *r)
{
    uint64_t entry;
    do
    {
        entry = area.entry;
        asm volatile ("" ::: "memory");
        r->state = area.state;
        r->entry = entry;
        r->time[0] = area.time[0];
        r->time[1] = area.time[1];
        asm volatile ("" ::: "memory");
    } while ( entry != area.entry );
}

static void spin(unsigned long secs)
{
    vi->evtchn_upcall_mask = 1;
    uint64_t start = now(), end = start + secs * 1000 * MS, next = start;
    unsigned long samples = 0;
    while ( now() < end )
    {
        uint64_t t = now();
        if ( t < next )
        {
            asm volatile ("pause");
            continue;
        }

        struct runstate r;
        runstate_read(&r);
        printk("sample sys=%lu run=%lu runnable=%lu entry=%lu\n", t, r.time[0], r.time[1], r.entry);
        samples++;
        next = t + 20 * MS;
    }

    test_check(samples > 0, "spun %lu s of system time (%lu samples)", secs, samples);
}

static void wake(unsigned long n, unsigned long ms)
{
    struct { uint32_t virq, vcpu, port; } bv = { VIRQ_TIMER, 0, 0 };
    if ( hypercall2(HC_event_channel_op, EVTCHNOP_bind_virq, &bv) != 0 )
        panic("bind VIRQ_TIMER failed");
    timer_port = bv.port;
    if ( n > MAX_WAKES )
        n = MAX_WAKES;

    for ( unsigned long i = 0; i < n; i++ )
    {
        unsigned long before = events[timer_port];
        vi->evtchn_upcall_mask = 1;
        asm volatile ("" ::: "memory");
        upcall_at = 0;
        uint64_t deadline = now() + ms * MS;
        hypercall1(HC_set_timer_op, deadline);
        while ( events[timer_port] == before )
        {
            hc_sched_op(SCHEDOP_block, NULL); /* unmasks; the upcall runs on the way out */
            vi->evtchn_upcall_mask = 1;
            asm volatile ("" ::: "memory");
        }

        latency[i] = upcall_at > deadline ? upcall_at - deadline : 0;
        printk("wake latency=%lu\n", latency[i]);
    }

    /* Insertion sort: n is small. */
    for ( unsigned long i = 1; i < n; i++ )
        for ( unsigned long j = i; j > 0 && latency[j - 1] > latency[j]; j-- )
        {
            uint64_t t = latency[j];
            latency[j] = latency[j - 1];
            latency[j - 1] = t;
        }

    printk("wake median=%lu max=%lu at=%lu\n", latency[n / 2], latency[n - 1], now());
    test_check(n > 0, "%lu timed wake-ups", n);
}

static void yield(unsigned long n)
{
    vi->evtchn_upcall_mask = 1;
    uint64_t t0 = now(), t_shared = 0;
    unsigned long i_shared = 0;
    for ( unsigned long i = 0; i < n; i++ )
    {
        hc_sched_op(0 /* SCHEDOP_yield */, NULL);
        if ( t_shared == 0 && area.time[1] != 0 )
        {
            t_shared = now(); /* it waited for the CPU once: another domain is yielding beside it from now on */
            i_shared = i + 1;
        }
    }
    uint64_t t1 = now();
    printk("yield n=%lu ns=%lu shared_n=%lu shared_ns=%lu\n", n, t1 - t0, t_shared ? n - i_shared : 0, t_shared ? t1 - t_shared : 0);
    test_check(n > 0, "%lu yields", n);
}

void test_main(void)
{
    unsigned long pte = (start_info->shared_info & ~0xfffUL) | _PAGE_PRESENT | _PAGE_RW | _PAGE_ACCESSED;
    if ( hypercall3(HC_update_va_mapping, SHARED_INFO_VA, pte, 2) != 0 )
        panic("cannot map shared_info");
    vi = &shared->vcpu_info[0];
    if ( hypercall3(HC_set_callbacks, event_entry, 0, 0) != 0 )
        panic("set_callbacks failed");
    volatile struct runstate *pa = &area;
    test_check(vcpu_op(VCPUOP_register_runstate_memory_area, 0, &pa) == 0, "register_runstate_memory_area");
    vcpu_op(VCPUOP_stop_periodic_timer, 0, NULL); /* no 100 Hz tick: the only events are the ones measured */

    char mode[8];
    if ( !cmdline_get("sched", mode, sizeof(mode)) )
        test_error("no sched=spin|wake|yield on the command line");
    else if ( strcmp(mode, "spin") == 0 )
        spin(number("secs", 4));
    else if ( strcmp(mode, "yield") == 0 )
        yield(number("n", 10000));
    else if ( strcmp(mode, "wake") == 0 )
        wake(number("n", 40), number("ms", 20));
    else
        test_error("unknown sched=%s", mode);
}
