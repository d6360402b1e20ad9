/*
 * fpu: fpu_taskswitch(1) sets the guest's virtual CR0.TS, so its next FPU instruction raises #NM, delivered through
 * its trap table with TS cleared (Xen's lazy-FPU protocol); fpu_taskswitch(0) clears it. The hypervisor keeps the
 * real CR0.TS equal to the virtual one. (kvm_pvm ignores CR0.TS: tools/probes/cr0-ts.c; there this guest FAILs.)
 */
#include "guest.h"
#include "hypercall.h"

#define HC_fpu_taskswitch 5

struct trap_info { uint8_t vector; uint8_t flags; uint16_t cs; unsigned long address; };
extern void nm_entry(void);
unsigned long nm_count;

void test_main(void)
{
    static struct trap_info traps[] = {
        { 7, 0, 0xe033, (unsigned long)nm_entry },
        { 0, 0, 0, 0 },
    };
    printk("fpu: fpu_taskswitch and #NM\n");
    if ( hypercall1(HC_set_trap_table, traps) != 0 )
        panic("set_trap_table failed");
    asm volatile ("fnop" ::: "memory");
    test_check(nm_count == 0, "no #NM while TS is clear (%lu)", nm_count);
    if ( hypercall1(HC_fpu_taskswitch, 1) != 0 )
        panic("fpu_taskswitch(1) failed");
    asm volatile ("fnop" ::: "memory");
    test_check(nm_count == 1, "fpu_taskswitch(1): the next FPU instruction raised #NM (%lu)", nm_count);
    asm volatile ("fnop" ::: "memory");
    test_check(nm_count == 1, "#NM once: delivering it cleared TS (%lu)", nm_count);
    if ( hypercall1(HC_fpu_taskswitch, 1) != 0 || hypercall1(HC_fpu_taskswitch, 0) != 0 )
        panic("fpu_taskswitch failed");
    asm volatile ("fnop" ::: "memory");
    test_check(nm_count == 1, "fpu_taskswitch(0): no #NM (%lu)", nm_count);
}
