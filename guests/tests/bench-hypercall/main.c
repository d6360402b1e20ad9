/*
 * bench-hypercall - the null hypercall, timed.
 *
 * Issues n xen_version(XENVER_version) hypercalls through the hypercall page
 * (command line "n=<count>", default 100000) between two marker lines, so a
 * host can time the loop from the console alone: the time between the moments
 * the two marker lines reach the console, divided by n. The guest also times
 * the loop with rdtsc (TSC ticks, informative only: the guest does not know the
 * TSC frequency, and on PVM the TSC runs at the host's rate).
 *
 * Expected console:
 *   bench-hypercall: n=<n>
 *   BENCH-BEGIN
 *   BENCH-END
 *   bench-hypercall: <n> calls, <ticks> TSC ticks, <t.tt> ticks/call
 *   [PASS] every xen_version call returned <major>.<minor>
 *   Test result: SUCCESS
 *
 * A bad or missing-value n= gives "[ERROR] ..." and "Test result: ERROR".
 */
#include "guest.h"
#include "hypercall.h"

#define DEFAULT_N  100000UL
#define WARMUP     1000UL

static inline uint64_t rdtsc(void)
{
    uint32_t lo, hi;

    asm volatile ("lfence; rdtsc" : "=a" (lo), "=d" (hi) :: "memory");
    return ((uint64_t)hi << 32) | lo;
}

/* Decimal digits only, 1 .. 10^9; returns 0 for anything else. */
static unsigned long parse_count(const char *s)
{
    unsigned long v = 0;

    if ( !*s )
        return 0;
    for ( ; *s; s++ )
    {
        if ( *s < '0' || *s > '9' )
            return 0;
        v = v * 10 + (unsigned long)(*s - '0');
        if ( v > 1000000000UL )
            return 0;
    }
    return v;
}

void test_main(void)
{
    char arg[32];
    unsigned long n = DEFAULT_N, bad = 0;
    long expect, ver;
    uint64_t t0, t1, ticks, per100;

    if ( cmdline_get("n", arg, sizeof(arg)) )
    {
        n = parse_count(arg);
        if ( n == 0 )
        {
            test_error("n=\"%s\" is not a count from 1 to 1000000000", arg);
            test_exit();
        }
    }
    printk("bench-hypercall: n=%lu\n", n);

    /* Warm-up: first-touch and shadow-paging costs stay out of the loop. */
    expect = hc_xen_version(XENVER_version, NULL);
    for ( unsigned long i = 0; i < WARMUP; i++ )
        bad += hc_xen_version(XENVER_version, NULL) != expect;

    printk("BENCH-BEGIN\n");
    t0 = rdtsc();
    for ( unsigned long i = 0; i < n; i++ )
    {
        ver = hc_xen_version(XENVER_version, NULL);
        bad += ver != expect;
    }
    t1 = rdtsc();
    printk("BENCH-END\n");

    ticks = t1 - t0;
    per100 = ticks * 100 / n;
    printk("bench-hypercall: %lu calls, %lu TSC ticks, %lu.%02lu ticks/call\n",
           n, (unsigned long)ticks, (unsigned long)(per100 / 100),
           (unsigned long)(per100 % 100));

    test_check(expect > 0 && bad == 0,
               "every xen_version call returned %d.%d (%lu differed)",
               (int)(expect >> 16), (int)(expect & 0xffff), bad);
    test_exit();
}
