/*
 * usermode: a guest kernel that runs a user process in its own address space.
 * It builds a user page-table tree (L4-L3-L2-L1) from its own free pages, remaps those pages read-only, pins the
 * L4 and registers it with MMUEXT_NEW_USER_BASEPTR, then irets into ring-3 user mode. The user program makes
 * system calls (bounced to the kernel's syscall callback and returned by the iret hypercall) and takes a page fault
 * that the kernel handles by mapping a page with mmu_update. After the user program exits, the kernel tears the
 * address space down (unpin, pages writable again) and does it all again, ITERATIONS times.
 */
#include "guest.h"
#include "hypercall.h"

#define ITERATIONS 200

#define HC_mmu_update          1
#define HC_stack_switch        3
#define HC_update_va_mapping  14
#define HC_mmuext_op          26
#define HC_callback_op        30

#define MMUEXT_PIN_L4_TABLE       3
#define MMUEXT_UNPIN_TABLE        4
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
#define USER_FAULT  0x40002000UL

/* Free pages of the initial mapping, well past the image and the builder's boot data. */
#define PT_L4   0x300000UL
#define PT_L3   0x301000UL
#define PT_L2   0x302000UL
#define PT_L1   0x303000UL
#define P_CODE  0x304000UL
#define P_STACK 0x305000UL
#define P_FAULT 0x306000UL

struct mmuext_op { unsigned int cmd; unsigned long arg1; unsigned long arg2; };
struct mmu_update { unsigned long ptr; unsigned long val; };
struct trap_info { uint8_t vector; uint8_t flags; uint16_t cs; unsigned long address; };
struct callback_register { uint16_t type; uint16_t flags; unsigned long address; };

extern void syscall_entry(void), page_fault_entry(void), other_trap_entry(void);
extern void enter_user(unsigned long rip, unsigned long rsp) __attribute__((noreturn));
extern const uint8_t user_program[], user_program_end[];

#define SHARED_INFO_VA 0x3ff000UL
static const unsigned long shared_info_va = SHARED_INFO_VA;

static uint8_t kernel_stack[8192] __attribute__((aligned(16)));
static unsigned long iteration, syscalls, faults;

static unsigned long mfn_of(unsigned long va)
{
    const unsigned long *p2m = (const unsigned long *)start_info->mfn_list;
    return p2m[va >> 12];
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

static void must(long rc, const char *what)
{
    if ( rc != 0 )
        panic("%s failed: %ld (iteration %lu)", what, rc, iteration);
}

static void map_shared_info(void)
{
    unsigned long pte = (start_info->shared_info & ~0xfffUL) | _PAGE_PRESENT | _PAGE_RW | _PAGE_ACCESSED;
    must(hypercall3(HC_update_va_mapping, SHARED_INFO_VA, pte, UVMF_INVLPG), "map shared_info");
}

static void build_address_space(void)
{
    const unsigned long table = _PAGE_PRESENT | _PAGE_RW | _PAGE_USER | _PAGE_ACCESSED;
    memset((void *)PT_L4, 0, 4096);
    memset((void *)PT_L3, 0, 4096);
    memset((void *)PT_L2, 0, 4096);
    memset((void *)PT_L1, 0, 4096);
    ((unsigned long *)PT_L4)[0] = (mfn_of(PT_L3) << 12) | table;
    ((unsigned long *)PT_L3)[USER_CODE >> 30] = (mfn_of(PT_L2) << 12) | table;
    ((unsigned long *)PT_L2)[0] = (mfn_of(PT_L1) << 12) | table;
    ((unsigned long *)PT_L1)[0] = (mfn_of(P_CODE) << 12) | _PAGE_PRESENT | _PAGE_USER | _PAGE_ACCESSED;
    ((unsigned long *)PT_L1)[1] = (mfn_of(P_STACK) << 12) | table;
    memcpy((void *)P_CODE, user_program, user_program_end - user_program);

    /* Page-table pages may not stay writable: remap them read-only, then pin (Xen validates the tree). */
    must(remap(PT_L4, false), "remap L4 read-only");
    must(remap(PT_L3, false), "remap L3 read-only");
    must(remap(PT_L2, false), "remap L2 read-only");
    must(remap(PT_L1, false), "remap L1 read-only");
    must(mmuext(MMUEXT_PIN_L4_TABLE, mfn_of(PT_L4)), "pin user L4");
    must(mmuext(MMUEXT_NEW_USER_BASEPTR, mfn_of(PT_L4)), "NEW_USER_BASEPTR");
}

static void tear_down(void)
{
    must(mmuext(MMUEXT_NEW_USER_BASEPTR, 0), "NEW_USER_BASEPTR(0)");
    must(mmuext(MMUEXT_UNPIN_TABLE, mfn_of(PT_L4)), "unpin user L4");
    must(remap(PT_L4, true), "remap L4 writable");
    must(remap(PT_L3, true), "remap L3 writable");
    must(remap(PT_L2, true), "remap L2 writable");
    must(remap(PT_L1, true), "remap L1 writable");
}

static void isolation_checks(void)
{
    /* While pinned, a page-table page cannot be mapped writable, nor can a PTE point at a frame we do not own. */
    test_check(remap(PT_L1, true) < 0, "a pinned L1 cannot be remapped writable");
    struct mmu_update u = {
        .ptr = (mfn_of(PT_L1) << 12) + 5 * 8,
        .val = (0x7ffffffUL << 12) | _PAGE_PRESENT | _PAGE_USER,
    };
    test_check(hypercall4(HC_mmu_update, &u, 1, NULL, DOMID_SELF) < 0, "a PTE to a frame outside the domain is refused");
    u.val = (mfn_of(PT_L2) << 12) | _PAGE_PRESENT | _PAGE_RW | _PAGE_USER;
    test_check(hypercall4(HC_mmu_update, &u, 1, NULL, DOMID_SELF) < 0, "a writable PTE to a page-table page is refused");
    test_check(mmuext(MMUEXT_UNPIN_TABLE, mfn_of(PT_L1)) < 0, "unpinning a table that is not pinned is refused");
}

/*
 * A present kernel mapping changed by update_va_mapping must take effect at once. (On a shadow-paging KVM the
 * hypervisor's own writes to page tables are invisible to KVM unless it resynchronises them.)
 */
static void remap_present_entry(void)
{
    volatile unsigned long *a = (volatile unsigned long *)0x307000UL, *b = (volatile unsigned long *)0x308000UL;
    *a = 0xaaaa;
    *b = 0xbbbb;
    (void)*a; /* make sure the old translation is in use */
    unsigned long pte = (mfn_of(0x308000UL) << 12) | _PAGE_PRESENT | _PAGE_RW | _PAGE_ACCESSED;
    must(hypercall3(HC_update_va_mapping, 0x307000UL, pte, UVMF_INVLPG), "remap a present entry");
    test_check(*a == 0xbbbb, "a changed present mapping takes effect (read %#lx)", *a);
    pte = (mfn_of(0x307000UL) << 12) | _PAGE_PRESENT | _PAGE_RW | _PAGE_ACCESSED;
    must(hypercall3(HC_update_va_mapping, 0x307000UL, pte, UVMF_INVLPG), "restore the entry");
    test_check(*a == 0xaaaa, "and changing it back does too (read %#lx)", *a);
}

static void start_user(void)
{
    ((unsigned long *)P_FAULT)[0] = 0;
    enter_user(USER_CODE, USER_STACK + 4096);
}

long do_syscall(long nr, long arg)
{
    syscalls++;
    switch ( nr )
    {
    case 1:
        return arg + 1;
    case 3:
        return syscalls;
    case 4:
    {
        /* A batch longer than the stub's resync list (440): 500 no-op updates of empty entries, then the unmap. */
        static struct mmu_update batch[501];
        for ( int i = 0; i < 500; i++ )
        {
            batch[i].ptr = (mfn_of(PT_L1) << 12) + (unsigned long)(10 + i) * 8;
            batch[i].val = 0;
        }
        batch[500].ptr = (mfn_of(PT_L1) << 12) + 2 * 8;
        batch[500].val = 0;
        must(hypercall4(HC_mmu_update, batch, 501, NULL, DOMID_SELF), "unmap the faulting page");
        return 0;
    }
    case 2:
        if ( arg != 0 )
        {
            test_failure("user program reported failure %ld in iteration %lu", arg, iteration);
            test_exit();
        }
        if ( iteration == 0 )
        {
            test_success("user process ran: system calls, a page fault handled by the guest kernel");
            isolation_checks();
        }
        tear_down();
        if ( ++iteration < ITERATIONS )
        {
            build_address_space();
            start_user();
        }
        test_check(faults == 2 * ITERATIONS, "%lu page faults handled, two per iteration (map, unmap by the kernel, fault again)", faults);
        test_success("built, ran and tore down %d user address spaces (%lu system calls)", ITERATIONS, syscalls);
        test_exit();
    default:
        return -XEN_ENOSYS;
    }
}

void do_page_fault(unsigned long error, unsigned long *frame)
{
    unsigned long cr2 = ((volatile unsigned long *)shared_info_va)[2]; /* vcpu_info[0].arch.cr2 */
    if ( cr2 != USER_FAULT || !(error & 4) )
        panic("unexpected page fault at %#lx, error %#lx, rip %#lx", cr2, error, frame[0]);
    struct mmu_update u = {
        .ptr = (mfn_of(PT_L1) << 12) + 2 * 8,
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
    printk("usermode: user processes with their own address spaces\n");
    map_shared_info();
    must(hypercall1(HC_set_trap_table, traps), "set_trap_table");
    struct callback_register cb = { CALLBACKTYPE_syscall, CALLBACKF_mask_events, (unsigned long)syscall_entry };
    must(hypercall2(HC_callback_op, CALLBACKOP_register, &cb), "register the syscall callback");
    must(hypercall2(HC_stack_switch, 0xe02b, (unsigned long)kernel_stack + sizeof(kernel_stack)), "stack_switch");
    remap_present_entry();
    build_address_space();
    start_user();
}
