/*
 * pvclock.c - Xen system time from vcpu_time_info, and the 2-level event-channel consumer.
 */
#include "guest.h"

static inline uint64_t read_tsc(void)
{
    uint32_t lo, hi;
    asm volatile ("rdtsc" : "=a" (lo), "=d" (hi));
    return ((uint64_t)hi << 32) | lo;
}

uint64_t pvclock_read(const volatile struct vcpu_time_info *t)
{
    uint32_t v;
    uint64_t r;
    do {
        v = t->version;
        asm volatile ("" ::: "memory");
        uint64_t delta = read_tsc() - t->tsc_timestamp;
        delta = t->tsc_shift >= 0 ? delta << t->tsc_shift : delta >> -t->tsc_shift;
        r = t->system_time + (uint64_t)(((unsigned __int128)delta * t->tsc_to_system_mul) >> 32);
        asm volatile ("" ::: "memory");
    } while ( (v & 1) || v != t->version );
    return r;
}

void evtchn_2l_consume(volatile struct shared_info *s, volatile struct vcpu_info *vi, volatile unsigned long *counts)
{
    vi->evtchn_upcall_pending = 0;
    unsigned long sel = __atomic_exchange_n(&vi->evtchn_pending_sel, 0, __ATOMIC_SEQ_CST);
    while ( sel )
    {
        unsigned int i = __builtin_ctzl(sel);
        sel &= sel - 1;
        unsigned long pend = s->evtchn_pending[i] & ~s->evtchn_mask[i];
        while ( pend )
        {
            unsigned int j = __builtin_ctzl(pend);
            pend &= pend - 1;
            __atomic_fetch_and(&s->evtchn_pending[i], ~(1UL << j), __ATOMIC_SEQ_CST);
            counts[i * 64 + j]++;
        }
    }
}
