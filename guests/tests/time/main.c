/*
 * time - Xen's three kinds of time and the vCPU operations around them:
 *   vcpu_time_info (system time from the TSC), the wall clock, set_timer_op and the VCPUOP timers delivering
 *   VIRQ_TIMER (to a blocked vCPU and, by interrupting it, to a running one), the default 100 Hz periodic timer,
 *   SCHEDOP_block and SCHEDOP_poll, runstate, VCPUOP_register_vcpu_info, and a second vCPU brought up with
 *   VCPUOP_initialise/up and taken down again. Run with vcpus=3 (vCPU 2 stays uninitialised).
 * Every check prints [PASS]/[FAIL]; nothing here measures speed: time is only compared with deadlines.
 */
#include "guest.h"
#include "hypercall.h"

#define HC_set_callbacks       4
#define HC_update_va_mapping  14
#define HC_set_timer_op       15
#define HC_vcpu_op            24
#define HC_event_channel_op   32

#define VCPUOP_initialise            0
#define VCPUOP_up                    1
#define VCPUOP_down                  2
#define VCPUOP_is_up                 3
#define VCPUOP_get_runstate_info     4
#define VCPUOP_register_runstate_memory_area 5
#define VCPUOP_set_periodic_timer    6
#define VCPUOP_stop_periodic_timer   7
#define VCPUOP_set_singleshot_timer  8
#define VCPUOP_register_vcpu_info   10

#define EVTCHNOP_bind_virq      1
#define EVTCHNOP_send           4
#define EVTCHNOP_alloc_unbound  6
#define EVTCHNOP_bind_ipi       7
#define EVTCHNOP_unmask         9
#define VIRQ_TIMER              0
#define SCHEDOP_poll            3

#define FLAT_KERNEL_CS 0xe033
#define FLAT_KERNEL_SS 0xe02b

#define _PAGE_PRESENT  0x001UL
#define _PAGE_RW       0x002UL
#define _PAGE_ACCESSED 0x020UL
#define SHARED_INFO_VA 0x3ff000UL

#define MS 1000000ULL
#define XEN_ENXIO   6
#define XEN_EBUSY  16
#define XEN_EEXIST 17

struct runstate { int state; int pad; uint64_t entry; uint64_t time[4]; };


static volatile struct shared_info *const shared = (volatile struct shared_info *)SHARED_INFO_VA;
static volatile struct vcpu_info *vi;
static volatile unsigned long events[4096];
static unsigned int timer_port;

static unsigned long mfn_of(unsigned long va)
{
    return ((const unsigned long *)start_info->mfn_list)[va >> 12];
}

static uint64_t now(void) { return pvclock_read(&vi->time); }

void do_event(void) { evtchn_2l_consume(shared, vi, events); }

static long evtchn(int cmd, void *arg) { return hypercall2(HC_event_channel_op, cmd, arg); }
static long vcpu_op(int cmd, int vcpu, void *arg) { return hypercall3(HC_vcpu_op, cmd, vcpu, arg); }

static void events_on(void)
{
    vi->evtchn_upcall_mask = 0;
    asm volatile ("" ::: "memory");
    if ( vi->evtchn_upcall_pending )
        hc_xen_version(XENVER_version, NULL); /* any hypercall delivers what is pending */
}

static void events_off(void) { vi->evtchn_upcall_mask = 1; asm volatile ("" ::: "memory"); }

/*
 * Sleeps until the timer port's count passes `before`, the Xen way: test with events masked, and let SCHEDOP_block
 * unmask them and sleep only if nothing is pending. (A timer may fire before the block: then the event is pending,
 * the block returns at once and the upcall is taken on the way out; testing with events on could lose it.)
 */
static void block_until_tick(unsigned long before)
{
    events_off();
    while ( events[timer_port] == before )
    {
        hc_sched_op(SCHEDOP_block, NULL);
        events_off();
    }
    events_on();
}

/* Spins with events on until the timer port's count passes `target` or `limit_ns` of system time goes by. */
static bool spin_for_ticks(unsigned long target, uint64_t limit_ns)
{
    uint64_t end = now() + limit_ns;
    while ( events[timer_port] < target && now() < end )
        asm volatile ("pause");
    return events[timer_port] >= target;
}

static void check_clock(void)
{
    volatile struct vcpu_time_info *t = &vi->time;
    test_check(t->tsc_to_system_mul != 0 && (t->version & 1) == 0,
               "vcpu_time_info published: version %u, mul %#x, shift %d, flags %#x",
               t->version, t->tsc_to_system_mul, t->tsc_shift, t->flags);
    test_check(t->flags & 1, "TSC_STABLE is set (one TSC for every vCPU)");
    uint64_t prev = now(), first = prev;
    bool mono = true;
    for ( int i = 0; i < 100000; i++ )
    {
        uint64_t n = now();
        mono &= n >= prev;
        prev = n;
    }
    test_check(mono && prev > first, "system time is monotonic and advances (%lu ns over 100000 reads)", prev - first);
    test_check(shared->wc_sec > 1700000000u && (shared->wc_version & 1) == 0,
               "wall clock: %u.%09u s since 1970 at system time 0 (version %u)", shared->wc_sec, shared->wc_nsec, shared->wc_version);
}

static void check_timers(void)
{
    struct { uint32_t virq, vcpu, port; } bv = { VIRQ_TIMER, 0, 0 };
    long rc = evtchn(EVTCHNOP_bind_virq, &bv);
    test_check(rc == 0, "bind VIRQ_TIMER: port %u", bv.port);
    timer_port = bv.port;
    events_on();

    /* Xen gives a PV vCPU a 100 Hz periodic timer until it says otherwise: it interrupts a spinning vCPU. */
    bool ticked = spin_for_ticks(events[timer_port] + 3, 5000 * MS);
    test_check(ticked, "the default periodic timer ticks (%lu events)", events[timer_port]);
    test_check(vcpu_op(VCPUOP_stop_periodic_timer, 0, NULL) == 0, "VCPUOP_stop_periodic_timer");
    unsigned long before = events[timer_port];
    uint64_t until = now() + 60 * MS;
    while ( now() < until )
        asm volatile ("pause");
    test_check(events[timer_port] == before, "no ticks after stop_periodic_timer (%lu then %lu)", before, events[timer_port]);

    uint64_t period = 100000; /* 0.1 ms: below Xen's 1 ms minimum */
    test_check(vcpu_op(VCPUOP_set_periodic_timer, 0, &period) == -XEN_EINVAL, "a 0.1 ms period is -EINVAL");
    period = 2 * MS;
    test_check(vcpu_op(VCPUOP_set_periodic_timer, 0, &period) == 0, "VCPUOP_set_periodic_timer(2 ms)");
    test_check(spin_for_ticks(events[timer_port] + 5, 5000 * MS), "the 2 ms periodic timer ticks");
    vcpu_op(VCPUOP_stop_periodic_timer, 0, NULL);

    /* set_timer_op, then block: woken by the timer, not before its deadline. */
    for ( int i = 0; i < 3; i++ )
    {
        before = events[timer_port];
        uint64_t deadline = now() + 5 * MS;
        test_check(hypercall1(HC_set_timer_op, deadline) == 0, "set_timer_op(+5 ms)");
        block_until_tick(before);
        uint64_t woke = now();
        test_check(events[timer_port] > before && woke >= deadline,
                   "SCHEDOP_block woke by VIRQ_TIMER %ld ns after the deadline", (long)(woke - deadline));
    }

    /* A running vCPU is interrupted for its timer. */
    before = events[timer_port];
    uint64_t deadline = now() + 2 * MS;
    hypercall1(HC_set_timer_op, deadline);
    test_check(spin_for_ticks(before + 1, 5000 * MS) && now() >= deadline, "set_timer_op interrupts a spinning vCPU at its deadline");

    /* A deadline already passed fires at once; 0 cancels. */
    before = events[timer_port];
    hypercall1(HC_set_timer_op, now() - 1);
    test_check(events[timer_port] == before + 1, "set_timer_op in the past sends VIRQ_TIMER at once");
    hypercall1(HC_set_timer_op, now() + 5 * MS);
    hypercall1(HC_set_timer_op, 0);
    before = events[timer_port];
    until = now() + 30 * MS;
    while ( now() < until )
        asm volatile ("pause");
    test_check(events[timer_port] == before, "set_timer_op(0) cancels the timer");

    struct { uint64_t timeout; uint32_t flags; } st = { now() - 1000, 0 };
    before = events[timer_port];
    test_check(vcpu_op(VCPUOP_set_singleshot_timer, 0, &st) == 0 && events[timer_port] == before + 1,
               "VCPUOP_set_singleshot_timer in the past: 0, VIRQ_TIMER at once");
    test_check(vcpu_op(VCPUOP_set_singleshot_timer, 1, &st) == -XEN_EINVAL, "singleshot timer of another vCPU: -EINVAL");
}

static void check_poll(void)
{
    struct { uint16_t dom, remote; uint32_t port; } au = { DOMID_SELF, DOMID_SELF, 0 };
    long rc = evtchn(EVTCHNOP_alloc_unbound, &au);
    test_check(rc == 0, "alloc_unbound port %u", au.port);
    uint32_t ports[1] = { au.port };
    struct { uint32_t *ports; uint32_t nr; uint32_t pad; uint64_t timeout; } p = { ports, 1, 0, 0 };

    events_off(); /* Linux polls with events masked */
    p.timeout = now() + 3 * MS;
    rc = hc_sched_op(SCHEDOP_poll, &p);
    uint64_t woke = now();
    test_check(rc == 0 && woke >= p.timeout, "SCHEDOP_poll returns at its timeout (%ld, %ld ns after)", rc, (long)(woke - p.timeout));

    struct { uint32_t vcpu, port; } ipi = { 0, 0 };
    rc = evtchn(EVTCHNOP_bind_ipi, &ipi);
    test_check(rc == 0, "bind_ipi port %u", ipi.port);
    struct { uint32_t port; } send = { ipi.port };
    evtchn(EVTCHNOP_send, &send);
    ports[0] = ipi.port;
    p.timeout = now() + 10000 * MS;
    rc = hc_sched_op(SCHEDOP_poll, &p);
    test_check(rc == 0 && now() < p.timeout, "SCHEDOP_poll on a pending port returns at once");

    ports[0] = 4000;
    test_check(hc_sched_op(SCHEDOP_poll, &p) == -XEN_EINVAL, "SCHEDOP_poll on an invalid port: -EINVAL");
    p.nr = 129;
    test_check(hc_sched_op(SCHEDOP_poll, &p) == -XEN_EINVAL, "SCHEDOP_poll on 129 ports: -EINVAL");
    events_on();
}

static struct runstate area;

static void check_runstate(void)
{
    struct runstate r;
    struct runstate *pa = &area;
    test_check(vcpu_op(VCPUOP_register_runstate_memory_area, 0, &pa) == 0, "register_runstate_memory_area");
    long rc = vcpu_op(VCPUOP_get_runstate_info, 0, &r);
    test_check(rc == 0 && r.state == 0 && r.time[0] > 0 && r.time[2] > 0,
               "runstate: running, %lu ns running, %lu ns blocked", r.time[0], r.time[2]);
    unsigned long before = events[timer_port];
    uint64_t t0 = now(), deadline = t0 + 2 * MS;
    events_off();
    hypercall1(HC_set_timer_op, deadline);
    hc_sched_op(SCHEDOP_block, NULL); /* one block for sure: brief if the timer has fired already (a busy host) */
    block_until_tick(before);
    uint64_t t1 = now(), blocked = area.time[2] - r.time[2];
    test_check(area.state == 0 && blocked > 0 && blocked <= t1 - t0 && area.entry >= t0 && area.entry <= t1,
               "the registered runstate area follows a block (%lu of %lu ns blocked)", blocked, t1 - t0);
    test_check(vcpu_op(VCPUOP_get_runstate_info, 3, &r) == -XEN_ENOENT, "runstate of vCPU 3 (of 3): -ENOENT");
    rc = vcpu_op(VCPUOP_get_runstate_info, 1, &r);
    test_check(rc == 0 && r.state == 3, "vCPU 1 is offline (state %d)", r.state);
}

static uint8_t vcpu_page[4096] __attribute__((aligned(4096)));

static void check_register_vcpu_info(void)
{
    struct { uint64_t mfn; uint32_t offset, rsvd; } reg = { mfn_of((unsigned long)vcpu_page), 4090, 0 };
    long rc = vcpu_op(VCPUOP_register_vcpu_info, 0, &reg);
    test_check(rc == -XEN_ENXIO, "a vcpu_info across a page end: -ENXIO (%ld)", rc);
    reg.offset = 132;
    rc = vcpu_op(VCPUOP_register_vcpu_info, 0, &reg);
    test_check(rc == -XEN_ENXIO, "a misaligned vcpu_info: -ENXIO (%ld)", rc);
    reg.offset = 128;
    events_off();
    test_check(vcpu_op(VCPUOP_register_vcpu_info, 0, &reg) == 0, "VCPUOP_register_vcpu_info");
    volatile struct vcpu_info *nvi = (volatile struct vcpu_info *)(vcpu_page + 128);
    test_check(nvi->time.tsc_to_system_mul == vi->time.tsc_to_system_mul && (nvi->time.version & 1) == 0,
               "the new vcpu_info carries the time");
    vi = nvi;
    events_on();
    rc = vcpu_op(VCPUOP_register_vcpu_info, 0, &reg);
    test_check(rc == -XEN_EBUSY, "a second registration: -EBUSY (%ld; Xen before 4.18: -EINVAL)", rc);
    unsigned long before = events[timer_port];
    uint64_t deadline = now() + 3 * MS;
    hypercall1(HC_set_timer_op, deadline);
    block_until_tick(before);
    test_check(events[timer_port] > before && now() >= deadline, "events arrive through the registered vcpu_info");
}

/* ---- the second vCPU ---- */
static volatile unsigned long smp_counter, smp_stop;
static uint8_t secondary_stack[8192] __attribute__((aligned(16)));
static struct vcpu_guest_context ctx;

void secondary_main(void)
{
    for ( ;; )
    {
        __atomic_fetch_add(&smp_counter, 1, __ATOMIC_SEQ_CST);
        while ( !smp_stop )
            asm volatile ("pause");
        smp_stop = 0;
        vcpu_op(VCPUOP_down, 1, NULL); /* returns here when vCPU 0 brings it up again */
    }
}

static bool wait_until(volatile unsigned long *v, unsigned long value)
{
    uint64_t end = now() + 5000 * MS;
    while ( *v != value && now() < end )
        sched_yield();
    return *v == value;
}

static bool wait_down(int vcpu)
{
    uint64_t end = now() + 5000 * MS;
    while ( vcpu_op(VCPUOP_is_up, vcpu, NULL) != 0 && now() < end )
        sched_yield();
    return vcpu_op(VCPUOP_is_up, vcpu, NULL) == 0;
}

static void check_smp(void)
{
    test_check(vcpu_op(VCPUOP_is_up, 0, NULL) == 1, "vCPU 0 is up");
    test_check(vcpu_op(VCPUOP_is_up, 1, NULL) == 0, "vCPU 1 starts down");
    test_check(vcpu_op(VCPUOP_is_up, 3, NULL) == -XEN_ENOENT, "vCPU 3 of 3: -ENOENT");
    test_check(vcpu_op(VCPUOP_up, 2, NULL) == -XEN_EINVAL, "VCPUOP_up of an uninitialised vCPU: -EINVAL");

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

    ctx.rip = 0x8000000000000000UL;
    test_check(vcpu_op(VCPUOP_initialise, 2, &ctx) == -XEN_EINVAL, "VCPUOP_initialise with a non-canonical RIP: -EINVAL");
    ctx.rip = (unsigned long)secondary_entry;
    unsigned long cr3 = ctx.ctrlreg[3];
    ctx.ctrlreg[3] = mfn_of((unsigned long)vcpu_page) << 12; /* a data page is no L4 */
    test_check(vcpu_op(VCPUOP_initialise, 2, &ctx) == -XEN_EINVAL, "VCPUOP_initialise with a data page as CR3: -EINVAL");
    ctx.ctrlreg[3] = cr3;

    test_check(vcpu_op(VCPUOP_initialise, 1, &ctx) == 0, "VCPUOP_initialise vCPU 1");
    test_check(vcpu_op(VCPUOP_initialise, 1, &ctx) == -XEN_EEXIST, "a second VCPUOP_initialise: -EEXIST");
    test_check(vcpu_op(VCPUOP_is_up, 1, NULL) == 0, "initialised without VGCF_online: still down");
    test_check(vcpu_op(VCPUOP_up, 1, NULL) == 0, "VCPUOP_up vCPU 1");
    bool ran = wait_until(&smp_counter, 1);
    test_check(ran, "vCPU 1 runs its first instruction (counter %lu)", smp_counter);
    test_check(vcpu_op(VCPUOP_is_up, 1, NULL) == 1, "vCPU 1 is up");
    smp_stop = 1;
    test_check(wait_down(1), "vCPU 1 takes itself down");
    ran = vcpu_op(VCPUOP_up, 1, NULL) == 0 && wait_until(&smp_counter, 2);
    test_check(ran, "VCPUOP_up again: vCPU 1 resumes after its VCPUOP_down (counter %lu)", smp_counter);
    smp_stop = 1;
    test_check(wait_down(1), "vCPU 1 down again");
}

void test_main(void)
{
    unsigned long pte = (start_info->shared_info & ~0xfffUL) | _PAGE_PRESENT | _PAGE_RW | _PAGE_ACCESSED;
    if ( hypercall3(HC_update_va_mapping, SHARED_INFO_VA, pte, 2) != 0 )
        panic("cannot map shared_info");
    vi = &shared->vcpu_info[0];
    if ( hypercall3(HC_set_callbacks, event_entry, 0, 0) != 0 )
        panic("set_callbacks failed");

    check_clock();
    check_timers();
    check_poll();
    check_runstate();
    check_register_vcpu_info();
    check_smp();
}
