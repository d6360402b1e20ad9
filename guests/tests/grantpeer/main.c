/*
 * grantpeer: two domains share a page through a grant. Run as "role=granter peer=<mapper's id>" and
 * "role=mapper peer=<granter's id>"; with "orphan" on both command lines the granter powers off while the page is
 * still mapped, and the mapper must keep using it and unmap it cleanly afterwards.
 *
 * The granter grants a page (ref 8, writable) and a signal page (ref 9, read-only) to the mapper and makes its own
 * mapping of the page read-only. The mapper maps ref 8, checks the granter's pattern and writes a magic word back.
 * The granter sees it, checks the entry is in use and that it can neither pin the page as a page table (the mapper
 * holds a writable reference) nor give it back, then signals through ref 9. The mapper unmaps and checks the address
 * faults; the granter waits for its entries to go idle and pins the page, which must now work.
 */
#include "guest.h"
#include "hypercall.h"

#define HC_update_va_mapping  14
#define HC_grant_table_op     20
#define HC_mmuext_op          26

#define UVMF_INVLPG            2
#define MMUEXT_PIN_L1_TABLE    0
#define MMUEXT_UNPIN_TABLE     4
#define XENMEM_decrease_reservation 1

#define GNTTABOP_map_grant_ref   0
#define GNTTABOP_unmap_grant_ref 1
#define GNTTABOP_setup_table     2

#define GTF_permit_access 1
#define GTF_readonly      (1 << 2)
#define GTF_reading       (1 << 3)
#define GTF_writing       (1 << 4)

#define GNTMAP_device_map (1 << 0)
#define GNTMAP_host_map   (1 << 1)
#define GNTMAP_readonly   (1 << 2)

#define GNTST_okay           0
#define GNTST_general_error -1
#define GNTST_bad_domain    -2

#define _PAGE_PRESENT  0x001UL
#define _PAGE_RW       0x002UL
#define _PAGE_ACCESSED 0x020UL

#define GNT_VA   0x320000UL
#define PAGE     0x322000UL   /* granter: the shared page */
#define SIGNAL   0x323000UL   /* granter: the signal page */
#define MAP_VA   0x324000UL   /* mapper: where the shared page is mapped */
#define MAP2_VA  0x325000UL   /* mapper: where the signal page is mapped */

#define PATTERN 0x5a5a5a00UL  /* even: as a PTE it is not present, so the page can later be pinned as an L1 */
#define MAGIC   0xdead0000UL
#define GO      0x60600000UL

#define WAIT_LIMIT 2000000UL

struct grant_entry_v1 { uint16_t flags; uint16_t domid; uint32_t frame; };
struct gnttab_setup_table { uint16_t dom; uint32_t nr_frames; int16_t status; uint64_t frame_list; };
struct gnttab_map_grant_ref {
    uint64_t host_addr; uint32_t flags; uint32_t ref; uint16_t dom; int16_t status; uint32_t handle; uint64_t dev_bus_addr;
};
struct gnttab_unmap_grant_ref { uint64_t host_addr; uint64_t dev_bus_addr; uint32_t handle; int16_t status; };
struct mmuext_op { unsigned int cmd; unsigned long arg1; unsigned long arg2; };
struct trap_info { uint8_t vector; uint8_t flags; uint16_t cs; unsigned long address; };
struct xen_memory_reservation { unsigned long extent_start; unsigned long nr_extents; unsigned int extent_order; unsigned int mem_flags; uint16_t domid; };


static volatile struct grant_entry_v1 *const gnttab = (volatile struct grant_entry_v1 *)GNT_VA;
static uint16_t peer;

void unexpected_fault(unsigned long rip)
{
    panic("unexpected page fault at rip %#lx", rip);
}

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

static long remap(unsigned long va, unsigned long mfn, bool writable)
{
    unsigned long pte = (mfn << 12) | _PAGE_PRESENT | _PAGE_ACCESSED | (writable ? _PAGE_RW : 0);
    return hypercall3(HC_update_va_mapping, va, pte, UVMF_INVLPG);
}

static long mmuext(unsigned int cmd, unsigned long arg1)
{
    struct mmuext_op op = { .cmd = cmd, .arg1 = arg1 };
    return hypercall4(HC_mmuext_op, &op, 1, NULL, DOMID_SELF);
}

static struct gnttab_map_grant_ref map(unsigned long addr, uint32_t flags, uint32_t ref)
{
    struct gnttab_map_grant_ref m = { .host_addr = addr, .flags = flags, .ref = ref, .dom = peer, .status = 0x5555 };
    must(hypercall3(HC_grant_table_op, GNTTABOP_map_grant_ref, &m, 1), "map_grant_ref");
    return m;
}

static int16_t unmap(unsigned long host_addr, unsigned long dev_bus_addr, uint32_t handle)
{
    struct gnttab_unmap_grant_ref u = { .host_addr = host_addr, .dev_bus_addr = dev_bus_addr, .handle = handle, .status = 0x5555 };
    must(hypercall3(HC_grant_table_op, GNTTABOP_unmap_grant_ref, &u, 1), "unmap_grant_ref");
    return u.status;
}

/* Retries a map while the peer has not granted yet (or is not even built yet). */
static struct gnttab_map_grant_ref map_when_granted(unsigned long addr, uint32_t flags, uint32_t ref)
{
    struct gnttab_map_grant_ref m;
    for ( unsigned long i = 0; i < WAIT_LIMIT; i++ )
    {
        m = map(addr, flags, ref);
        if ( m.status != GNTST_general_error && m.status != GNTST_bad_domain )
            return m;
        sched_yield();
    }
    return m;
}

static bool wait_for(volatile unsigned long *word, unsigned long value)
{
    for ( unsigned long i = 0; i < WAIT_LIMIT; i++ )
    {
        if ( *word == value )
            return true;
        sched_yield();
    }
    return false;
}

static bool faults(unsigned long va)
{
    unsigned long v;
    return probe_read((volatile unsigned long *)va, &v) != 0;
}

static void grant(unsigned int ref, unsigned long va, uint16_t flags)
{
    gnttab[ref].domid = peer;
    gnttab[ref].frame = (uint32_t)mfn_of(va);
    __asm__ volatile ("" ::: "memory");
    gnttab[ref].flags = flags;
}

static void granter(bool orphan)
{
    unsigned long frame = 0;
    struct gnttab_setup_table st = { .dom = DOMID_SELF, .nr_frames = 1, .frame_list = (unsigned long)&frame };
    must(hypercall3(HC_grant_table_op, GNTTABOP_setup_table, &st, 1) || st.status, "setup_table");
    must(remap(GNT_VA, frame, true), "map the grant table");

    volatile unsigned long *page = (volatile unsigned long *)PAGE, *signal = (volatile unsigned long *)SIGNAL;
    memset((void *)PAGE, 0, 4096);
    page[0] = PATTERN;
    signal[0] = 0;
    must(remap(PAGE, mfn_of(PAGE), false), "remap the shared page read-only");
    grant(8, PAGE, GTF_permit_access);
    grant(9, SIGNAL, GTF_permit_access | GTF_readonly);
    printk("granter: granted page %#lx to d%u\n", mfn_of(PAGE), peer);

    bool written = wait_for(&page[1], MAGIC);
    if ( !test_check(written, "the mapper wrote into our page (%#lx)", page[1]) )
        return;
    test_check((gnttab[8].flags & (GTF_reading | GTF_writing)) == (GTF_reading | GTF_writing),
               "the entry is in use: GTF_reading|GTF_writing (%#x)", gnttab[8].flags);
    test_check(mmuext(MMUEXT_PIN_L1_TABLE, mfn_of(PAGE)) == -XEN_EINVAL, "a page another domain maps writable cannot become a page table");
    unsigned long extent = mfn_of(PAGE);
    struct xen_memory_reservation r = { .extent_start = (unsigned long)&extent, .nr_extents = 1, .domid = DOMID_SELF };
    test_check(hc_memory_op(XENMEM_decrease_reservation, &r) == 0, "nor can it be given back while mapped");
    if ( orphan )
    {
        test_success("powering off while the page is mapped");
        return;
    }

    signal[0] = GO;
    bool idle = false;
    for ( unsigned long i = 0; i < WAIT_LIMIT && !idle; i++ )
    {
        idle = ((gnttab[8].flags | gnttab[9].flags) & (GTF_reading | GTF_writing)) == 0;
        if ( !idle )
            sched_yield();
    }
    if ( !test_check(idle, "the mapper unmapped: the entries are idle (%#x %#x)", gnttab[8].flags, gnttab[9].flags) )
        return;
    test_check(page[2] == MAGIC + 2, "the mapper's last write is in our page");
    test_check(mmuext(MMUEXT_PIN_L1_TABLE, mfn_of(PAGE)) == 0, "after the unmap the page can be pinned: no reference was kept");
    must(mmuext(MMUEXT_UNPIN_TABLE, mfn_of(PAGE)), "unpin");
}

static void mapper(bool orphan)
{
    volatile unsigned long *mapped = (volatile unsigned long *)MAP_VA;
    struct gnttab_map_grant_ref m = map_when_granted(MAP_VA, GNTMAP_host_map, 8);
    if ( !test_check(m.status == GNTST_okay, "mapped d%u's grant (status %d)", peer, m.status) )
        return;
    printk("mapper: d%u's frame %#lx at %#lx\n", peer, (unsigned long)(m.dev_bus_addr >> 12), MAP_VA);
    test_check(mapped[0] == PATTERN, "the granter's page shows through the mapping (%#lx)", mapped[0]);

    /* The grant is no licence for PTEs of our own to that frame. */
    test_check(remap(MAP_VA + 0x2000, m.dev_bus_addr >> 12, false) == -16, "update_va_mapping to the granter's frame is refused (-EBUSY)");
    mapped[1] = MAGIC;

    if ( orphan )
    {
        /* Wait for the granter to be gone: an invalid ref of its table answers bad_domain then. */
        bool gone = false;
        for ( unsigned long i = 0; i < WAIT_LIMIT && !gone; i++ )
        {
            gone = map(0, GNTMAP_device_map, 100).status == GNTST_bad_domain;
            if ( !gone )
                sched_yield();
        }
        if ( !test_check(gone, "the granter is gone") )
            return;
        test_check(mapped[0] == PATTERN && mapped[1] == MAGIC, "its page stays mapped and intact");
        mapped[2] = MAGIC + 2;
        test_check(mapped[2] == MAGIC + 2, "and writable");
        test_check(unmap(MAP_VA, 0, m.handle) == GNTST_okay, "unmap after the granter is gone");
        test_check(faults(MAP_VA), "the address faults after the unmap");
        return;
    }

    struct gnttab_map_grant_ref s = map_when_granted(MAP2_VA, GNTMAP_host_map | GNTMAP_readonly, 9);
    if ( !test_check(s.status == GNTST_okay, "mapped the signal page read-only (status %d)", s.status) )
        return;
    test_check(map(MAP2_VA, GNTMAP_host_map, 9).status == GNTST_general_error, "a writable map of a read-only grant fails");
    test_check(wait_for((volatile unsigned long *)MAP2_VA, GO), "the granter signalled");
    mapped[2] = MAGIC + 2;
    test_check(unmap(MAP_VA, 0, m.handle) == GNTST_okay, "unmap the page");
    test_check(unmap(MAP2_VA, 0, s.handle) == GNTST_okay, "unmap the signal page");
    test_check(faults(MAP_VA) && faults(MAP2_VA), "both addresses fault after the unmap");
}

void test_main(void)
{
    static struct trap_info traps[] = { { 14, 0, 0xe033, (unsigned long)probe_page_fault_entry }, { 0, 0, 0, 0 } };
    must(hypercall1(HC_set_trap_table, traps), "set_trap_table");
    char role[16], id[8];
    if ( !cmdline_get("role", role, sizeof(role)) || !cmdline_get("peer", id, sizeof(id)) )
    {
        test_error("usage: role=granter|mapper peer=<domid> [orphan]");
        return;
    }
    for ( const char *p = id; *p; p++ )
        peer = (uint16_t)(peer * 10 + (*p - '0'));
    bool orphan = cmdline_has("orphan");
    printk("grantpeer: %s, peer d%u%s\n", role, peer, orphan ? ", orphan" : "");
    if ( strcmp(role, "granter") == 0 )
        granter(orphan);
    else
        mapper(orphan);
}
