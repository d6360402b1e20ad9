/*
 * bench-pv - PV guest operations, timed from the console: a user process's system calls and page faults, and
 * mmu_update batched vs single. Command line (all optional; 0 skips a phase):
 *   sys=<n>     null system calls from the user program (default 20000)
 *   fault=<n>   page faults on fresh unmapped user pages (default 2000)
 *   batch=<r>   r mmu_update calls of 1000 entries each (default 3)
 *   single=<r>  r x 1000 mmu_update calls of one entry each (default 3)
 *
 * Expected console (each phase between its markers):
 *   MMU-BATCH-BEGIN / MMU-BATCH-END, MMU-SINGLE-BEGIN / MMU-SINGLE-END   (guest kernel)
 *   SYSCALL-BEGIN / SYSCALL-END, FAULT-BEGIN / FAULT-END                 (user program)
 *   [PASS] ... then Test result: SUCCESS
 *
 * The system call is the null one: the kernel's syscall callback returns at once through the iret hypercall with
 * VGCF_in_syscall. A page fault: the user program writes to a page whose PTE is not present; the kernel's #PF
 * handler maps it (one mmu_update of a user L1, always to the same data frame) and returns with iret. Every
 * page is touched once: 8 user L1s give room for 4093 faults after the warm-up one, so fault= is at most 4093.
 * (Unmapping and touching again is not used: on XenSharp, clearing a user PTE with mmu_update followed by
 * MMUEXT_TLB_FLUSH_LOCAL does not make the next touch fault, while real Xen 4.17 faults; see bench/README.md.)
 * The mmu_update phases rewrite 500 PTEs of an unattached, pinned L1 twice per 1000 updates (frame A, then B).
 */
#include "guest.h"
#include "hypercall.h"

#define HC_mmu_update          1
#define HC_stack_switch        3
#define HC_update_va_mapping  14
#define HC_mmuext_op          26
#define HC_callback_op        30

#define MMUEXT_PIN_L1_TABLE       0
#define MMUEXT_PIN_L4_TABLE       3
#define MMUEXT_NEW_USER_BASEPTR  15
#define UVMF_INVLPG               2
#define CALLBACKOP_register       0
#define CALLBACKTYPE_syscall      2
#define CALLBACKF_mask_events     1

#define _PAGE_PRESENT  0x001UL
#define _PAGE_RW       0x002UL
#define _PAGE_USER     0x004UL
#define _PAGE_ACCESSED 0x020UL

#define USER_CODE   0x40000000UL
#define USER_STACK  0x40001000UL
#define FAULT_FIRST 2               /* pages 2 .. 8*512-1 of the user region: the fault pages */
#define USER_L1S    8
#define FAULT_PAGES (USER_L1S * 512 - FAULT_FIRST)

#define PT_L4    0x300000UL
#define PT_L3    0x301000UL
#define PT_L2    0x302000UL
#define PT_L1    0x310000UL     /* .. 0x317000: USER_L1S tables */
#define P_CODE   0x304000UL
#define P_STACK  0x305000UL
#define P_FAULT  0x306000UL
#define MMU_L1   0x307000UL
#define P_A      0x308000UL
#define P_B      0x309000UL

#define BATCH 1000

struct mmuext_op { unsigned int cmd; unsigned long arg1; unsigned long arg2; };
struct mmu_update { unsigned long ptr; unsigned long val; };
struct trap_info { uint8_t vector; uint8_t flags; uint16_t cs; unsigned long address; };
struct callback_register { uint16_t type; uint16_t flags; unsigned long address; };

extern void syscall_entry(void), page_fault_entry(void), other_trap_entry(void);
extern void enter_user(unsigned long rip, unsigned long rsp) __attribute__((noreturn));
extern const uint8_t user_program[], user_program_end[];

#define SHARED_INFO_VA 0x3ff000UL

static uint8_t kernel_stack[8192] __attribute__((aligned(16)));
static struct mmu_update batch[BATCH];
static unsigned long n_sys = 20000, n_fault = 2000, n_batch = 3, n_single = 3;
static unsigned long faults, mmu_bad;

static unsigned long mfn_of(unsigned long va)
{
    const unsigned long *p2m = (const unsigned long *)start_info->mfn_list;
    return p2m[va >> 12];
}

static void must(long rc, const char *what)
{
    if ( rc != 0 )
        panic("%s failed: %ld", what, rc);
}

static long mmuext(unsigned int cmd, unsigned long arg1)
{
    struct mmuext_op op = { .cmd = cmd, .arg1 = arg1 };
    return hypercall4(HC_mmuext_op, &op, 1, NULL, DOMID_SELF);
}

static long remap(unsigned long va, bool writable)
{
    unsigned long pte = (mfn_of(va) << 12) | _PAGE_PRESENT | _PAGE_ACCESSED | (writable ? _PAGE_RW : 0);
    return hypercall3(HC_update_va_mapping, va, pte, UVMF_INVLPG);
}

/* Decimal 0 .. 10^9; false for anything else. */
static bool param(const char *key, unsigned long *out)
{
    char arg[32];
    unsigned long v = 0;
    if ( !cmdline_get(key, arg, sizeof(arg)) )
        return true;
    if ( !arg[0] )
        return false;
    for ( const char *s = arg; *s; s++ )
    {
        if ( *s < '0' || *s > '9' )
            return false;
        v = v * 10 + (unsigned long)(*s - '0');
        if ( v > 1000000000UL )
            return false;
    }
    *out = v;
    return true;
}

static void mmu_phases(void)
{
    memset((void *)MMU_L1, 0, 4096);
    must(remap(MMU_L1, false), "remap the bench L1 read-only");
    must(mmuext(MMUEXT_PIN_L1_TABLE, mfn_of(MMU_L1)), "pin the bench L1");
    unsigned long base = mfn_of(MMU_L1) << 12;
    for ( int i = 0; i < BATCH; i++ )
    {
        batch[i].ptr = base + (unsigned long)(i % 500) * 8;
        batch[i].val = (mfn_of(i < 500 ? P_A : P_B) << 12) | _PAGE_PRESENT | _PAGE_ACCESSED;
    }
    unsigned int done = 0;
    must(hypercall4(HC_mmu_update, batch, BATCH, &done, DOMID_SELF), "warm-up batch");

    printk("MMU-BATCH-BEGIN\n");
    for ( unsigned long r = 0; r < n_batch; r++ )
    {
        done = 0;
        mmu_bad += hypercall4(HC_mmu_update, batch, BATCH, &done, DOMID_SELF) != 0 || done != BATCH;
    }
    printk("MMU-BATCH-END\n");

    printk("MMU-SINGLE-BEGIN\n");
    for ( unsigned long r = 0; r < n_single; r++ )
        for ( int i = 0; i < BATCH; i++ )
            mmu_bad += hypercall4(HC_mmu_update, &batch[i], 1, NULL, DOMID_SELF) != 0;
    printk("MMU-SINGLE-END\n");

    unsigned long want = (mfn_of(P_B) << 12) | _PAGE_PRESENT | _PAGE_ACCESSED;
    unsigned long got = ((volatile unsigned long *)MMU_L1)[499];
    test_check(mmu_bad == 0 && (got & 0x000ffffffffff000UL) == (want & 0x000ffffffffff000UL),
               "%lu x %d-entry and %lu x %d-entry mmu_update calls succeeded (%lu failed; L1[499] %#lx, want %#lx)",
               n_batch, BATCH, n_single * BATCH, 1, mmu_bad, got, want);
}

static void build_address_space(void)
{
    const unsigned long table = _PAGE_PRESENT | _PAGE_RW | _PAGE_USER | _PAGE_ACCESSED;
    memset((void *)PT_L4, 0, 4096);
    memset((void *)PT_L3, 0, 4096);
    memset((void *)PT_L2, 0, 4096);
    for ( int i = 0; i < USER_L1S; i++ )
    {
        memset((void *)(PT_L1 + i * 4096UL), 0, 4096);
        ((unsigned long *)PT_L2)[i] = (mfn_of(PT_L1 + i * 4096UL) << 12) | table;
    }
    ((unsigned long *)PT_L4)[0] = (mfn_of(PT_L3) << 12) | table;
    ((unsigned long *)PT_L3)[USER_CODE >> 30] = (mfn_of(PT_L2) << 12) | table;
    ((unsigned long *)PT_L1)[0] = (mfn_of(P_CODE) << 12) | _PAGE_PRESENT | _PAGE_USER | _PAGE_ACCESSED;
    ((unsigned long *)PT_L1)[1] = (mfn_of(P_STACK) << 12) | table;
    memcpy((void *)P_CODE, user_program, user_program_end - user_program);
    must(remap(PT_L4, false), "remap L4 read-only");
    must(remap(PT_L3, false), "remap L3 read-only");
    must(remap(PT_L2, false), "remap L2 read-only");
    for ( int i = 0; i < USER_L1S; i++ )
        must(remap(PT_L1 + i * 4096UL, false), "remap an L1 read-only");
    must(mmuext(MMUEXT_PIN_L4_TABLE, mfn_of(PT_L4)), "pin user L4");
    must(mmuext(MMUEXT_NEW_USER_BASEPTR, mfn_of(PT_L4)), "NEW_USER_BASEPTR");
}

long do_syscall(long nr, long arg)
{
    switch ( nr )
    {
    case 10: return (long)n_sys;
    case 12: return (long)n_fault;
    case 20: printk("SYSCALL-BEGIN\n"); return 0;
    case 21: printk("SYSCALL-END\n"); return 0;
    case 30: printk("FAULT-BEGIN\n"); return 0;
    case 32: printk("FAULT-END\n"); return 0;
    case 2:
        test_check(arg == 0, "user program exited with %ld", arg);
        test_check(faults == n_fault + 1, "%lu page faults handled (want %lu + 1 warm-up)", faults, n_fault);
        test_success("user program: %lu null system calls (+1000 warm-up)", n_sys);
        test_exit();
    default:
        return -XEN_ENOSYS;
    }
}

void do_page_fault(unsigned long error, unsigned long *frame)
{
    unsigned long cr2 = ((volatile unsigned long *)SHARED_INFO_VA)[2]; /* vcpu_info[0].arch.cr2 */
    unsigned long index = (cr2 - USER_CODE) >> 12;
    if ( !(error & 4) || cr2 < USER_CODE || index < FAULT_FIRST || index >= FAULT_FIRST + FAULT_PAGES )
        panic("unexpected page fault at %#lx, error %#lx, rip %#lx", cr2, error, frame[0]);
    struct mmu_update u = {
        .ptr = (mfn_of(PT_L1 + (index / 512) * 4096) << 12) + (index % 512) * 8,
        .val = (mfn_of(P_FAULT) << 12) | _PAGE_PRESENT | _PAGE_RW | _PAGE_USER | _PAGE_ACCESSED,
    };
    must(hypercall4(HC_mmu_update, &u, 1, NULL, DOMID_SELF), "map the faulting page");
    faults++;
}

void do_other_trap(unsigned long *frame)
{
    panic("unexpected trap, frame %#lx %#lx %#lx %#lx", frame[0], frame[1], frame[2], frame[3]);
}

void test_main(void)
{
    static struct trap_info traps[] = {
        { 14, 0, 0xe033, (unsigned long)page_fault_entry },
        { 13, 0, 0xe033, (unsigned long)other_trap_entry },
        { 6, 0, 0xe033, (unsigned long)other_trap_entry },
        { 0, 0, 0, 0 },
    };
    if ( !param("sys", &n_sys) || !param("fault", &n_fault) || !param("batch", &n_batch) || !param("single", &n_single) )
    {
        test_error("sys=, fault=, batch=, single= want counts from 0 to 1000000000");
        test_exit();
    }
    if ( n_fault > FAULT_PAGES - 1 )
    {
        test_error("fault=%lu: at most %d", n_fault, FAULT_PAGES - 1);
        test_exit();
    }
    printk("bench-pv: sys=%lu fault=%lu batch=%lu single=%lu\n", n_sys, n_fault, n_batch, n_single);
    unsigned long pte = (start_info->shared_info & ~0xfffUL) | _PAGE_PRESENT | _PAGE_RW | _PAGE_ACCESSED;
    must(hypercall3(HC_update_va_mapping, SHARED_INFO_VA, pte, UVMF_INVLPG), "map shared_info");
    must(hypercall1(HC_set_trap_table, traps), "set_trap_table");
    struct callback_register cb = { CALLBACKTYPE_syscall, CALLBACKF_mask_events, (unsigned long)syscall_entry };
    must(hypercall2(HC_callback_op, CALLBACKOP_register, &cb), "register the syscall callback");
    must(hypercall2(HC_stack_switch, 0xe02b, (unsigned long)kernel_stack + sizeof(kernel_stack)), "stack_switch");
    mmu_phases();
    build_address_space();
    ((unsigned long *)P_FAULT)[0] = 0;
    enter_user(USER_CODE, USER_STACK + 4096);
}
