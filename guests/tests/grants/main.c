/*
 * grants: the guest grants one of its own frames to itself and maps the grant (GNTTABOP_map_grant_ref) at another
 * address, writes through one mapping and reads through the other, unmaps, and checks that the address then faults.
 * Around that: the reference counts the mapping holds (a frame mapped writable through a grant cannot be pinned as a
 * page table; after the unmap it can), the entry's GTF_reading/GTF_writing flags, host and device mappings unmapped
 * separately (XSA-224), unmap_and_replace, grant table v2 status frames, and hostile requests that must fail with
 * Xen's GNTST_* status.
 */
#include "guest.h"
#include "hypercall.h"

#define HC_update_va_mapping  14
#define HC_grant_table_op     20
#define HC_mmuext_op          26
#define HC_event_channel_op   32

#define UVMF_INVLPG            2
#define MMUEXT_PIN_L1_TABLE    0
#define MMUEXT_UNPIN_TABLE     4

#define EVTCHNOP_close         3
#define EVTCHNOP_status        5
#define EVTCHNOP_alloc_unbound 6

#define GNTTABOP_map_grant_ref     0
#define GNTTABOP_unmap_grant_ref   1
#define GNTTABOP_setup_table       2
#define GNTTABOP_unmap_and_replace 7
#define GNTTABOP_set_version       8
#define GNTTABOP_get_status_frames 9

#define GTF_permit_access 1
#define GTF_readonly      (1 << 2)
#define GTF_reading       (1 << 3)
#define GTF_writing       (1 << 4)

#define GNTMAP_device_map   (1 << 0)
#define GNTMAP_host_map     (1 << 1)
#define GNTMAP_readonly     (1 << 2)
#define GNTMAP_contains_pte (1 << 4)

#define GNTST_okay            0
#define GNTST_general_error  -1
#define GNTST_bad_domain     -2
#define GNTST_bad_gntref     -3
#define GNTST_bad_handle     -4
#define GNTST_bad_dev_addr   -6

#define _PAGE_PRESENT  0x001UL
#define _PAGE_RW       0x002UL
#define _PAGE_ACCESSED 0x020UL

/* Free pages of the initial mapping, past the image and the builder's boot data. */
#define GNT_VA      0x320000UL   /* grant table frame 0 (v1), then the v2 status frame at +0x1000 */
#define STATUS_VA   0x321000UL
#define GRANTED     0x322000UL   /* the frame we grant to ourselves */
#define MAP_VA      0x323000UL   /* where the grant is mapped (it maps a page of its own until then) */
#define OTHER       0x324000UL   /* a page unmap_and_replace moves over MAP_VA */
#define OTHER_VA    0x325000UL   /* and the address it is mapped at for that */

struct grant_entry_v1 { uint16_t flags; uint16_t domid; uint32_t frame; };
struct grant_entry_v2 { uint16_t flags; uint16_t domid; uint32_t pad; uint64_t frame; };
struct gnttab_setup_table { uint16_t dom; uint32_t nr_frames; int16_t status; uint64_t frame_list; };
struct gnttab_get_status_frames { uint32_t nr_frames; uint16_t dom; int16_t status; uint64_t frame_list; };
struct gnttab_map_grant_ref {
    uint64_t host_addr; uint32_t flags; uint32_t ref; uint16_t dom; int16_t status; uint32_t handle; uint64_t dev_bus_addr;
};
struct gnttab_unmap_grant_ref { uint64_t host_addr; uint64_t dev_bus_addr; uint32_t handle; int16_t status; };
struct gnttab_unmap_and_replace { uint64_t host_addr; uint64_t new_addr; uint32_t handle; int16_t status; };
struct evtchn_alloc_unbound { uint16_t dom; uint16_t remote_dom; uint32_t port; };
struct evtchn_status { uint16_t dom; uint32_t port; uint32_t status; uint32_t vcpu; uint16_t unbound_dom; uint8_t pad[6]; };
struct mmuext_op { unsigned int cmd; unsigned long arg1; unsigned long arg2; };
struct trap_info { uint8_t vector; uint8_t flags; uint16_t cs; unsigned long address; };

_Static_assert(sizeof(struct gnttab_map_grant_ref) == 32, "map layout");
_Static_assert(sizeof(struct gnttab_unmap_grant_ref) == 24, "unmap layout");
_Static_assert(sizeof(struct gnttab_setup_table) == 24, "setup layout");
_Static_assert(sizeof(struct evtchn_status) == 24, "evtchn_status layout");


static volatile struct grant_entry_v1 *const gnttab = (volatile struct grant_entry_v1 *)GNT_VA;
static uint16_t domid;

/* Called by probe_page_fault_entry for a fault anywhere but the probe (shared_info is not mapped: the RIP says enough). */
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
    unsigned long pte = mfn ? (mfn << 12) | _PAGE_PRESENT | _PAGE_ACCESSED | (writable ? _PAGE_RW : 0) : 0;
    return hypercall3(HC_update_va_mapping, va, pte, UVMF_INVLPG);
}

static long mmuext(unsigned int cmd, unsigned long arg1)
{
    struct mmuext_op op = { .cmd = cmd, .arg1 = arg1 };
    return hypercall4(HC_mmuext_op, &op, 1, NULL, DOMID_SELF);
}

/* Our domain id, the way XTF finds it: the status of an unbound channel names its owner. */
static int get_domid(void)
{
    struct evtchn_alloc_unbound a = { .dom = DOMID_SELF, .remote_dom = DOMID_SELF };
    if ( hypercall2(HC_event_channel_op, EVTCHNOP_alloc_unbound, &a) )
        return -1;
    struct evtchn_status s = { .dom = DOMID_SELF, .port = a.port };
    long rc = hypercall2(HC_event_channel_op, EVTCHNOP_status, &s);
    uint32_t port = a.port;
    hypercall2(HC_event_channel_op, EVTCHNOP_close, &port);
    return rc ? -1 : s.unbound_dom;
}

static void grant(unsigned int ref, unsigned long va, uint16_t flags)
{
    gnttab[ref].domid = domid;
    gnttab[ref].frame = (uint32_t)mfn_of(va);
    __asm__ volatile ("" ::: "memory");
    gnttab[ref].flags = flags;
}

static struct gnttab_map_grant_ref map(unsigned long addr, uint32_t flags, uint32_t ref, uint16_t dom)
{
    struct gnttab_map_grant_ref m = { .host_addr = addr, .flags = flags, .ref = ref, .dom = dom, .status = 0x5555 };
    long rc = hypercall3(HC_grant_table_op, GNTTABOP_map_grant_ref, &m, 1);
    if ( rc )
        panic("map_grant_ref returned %ld", rc);
    return m;
}

static int16_t unmap(unsigned long host_addr, unsigned long dev_bus_addr, uint32_t handle)
{
    struct gnttab_unmap_grant_ref u = { .host_addr = host_addr, .dev_bus_addr = dev_bus_addr, .handle = handle, .status = 0x5555 };
    long rc = hypercall3(HC_grant_table_op, GNTTABOP_unmap_grant_ref, &u, 1);
    if ( rc )
        panic("unmap_grant_ref returned %ld", rc);
    return u.status;
}

static bool faults(unsigned long va)
{
    unsigned long v;
    return probe_read((volatile unsigned long *)va, &v) != 0;
}

static void setup(void)
{
    static struct trap_info traps[] = { { 14, 0, 0xe033, (unsigned long)probe_page_fault_entry }, { 0, 0, 0, 0 } };
    must(hypercall1(HC_set_trap_table, traps), "set_trap_table");
    int id = get_domid();
    if ( id < 0 )
        panic("could not learn our domain id");
    domid = (uint16_t)id;

    unsigned long frame = 0;
    struct gnttab_setup_table st = { .dom = DOMID_SELF, .nr_frames = 1, .frame_list = (unsigned long)&frame };
    must(hypercall3(HC_grant_table_op, GNTTABOP_setup_table, &st, 1) || st.status, "setup_table");
    must(remap(GNT_VA, frame, true), "map the grant table");
    printk("grants: domain %u, grant table frame %#lx\n", domid, frame);
}

static void map_write_read_unmap(void)
{
    volatile unsigned long *granted = (volatile unsigned long *)GRANTED, *mapped = (volatile unsigned long *)MAP_VA;
    granted[0] = 0x1111;
    *(volatile unsigned long *)MAP_VA = 0x2222; /* MAP_VA maps a page of its own until the grant replaces it */
    grant(8, GRANTED, GTF_permit_access);

    struct gnttab_map_grant_ref m = map(MAP_VA, GNTMAP_host_map, 8, domid);
    if ( !test_check(m.status == GNTST_okay, "map_grant_ref of our own grant (status %d, handle %u)", m.status, m.handle) )
        return;
    test_check(m.dev_bus_addr == mfn_of(GRANTED) << 12, "dev_bus_addr is the frame's machine address (%#lx)", (unsigned long)m.dev_bus_addr);
    test_check((gnttab[8].flags & (GTF_reading | GTF_writing)) == (GTF_reading | GTF_writing), "the entry shows GTF_reading|GTF_writing (%#x)", gnttab[8].flags);

    test_check(mapped[0] == 0x1111, "the mapping shows the granted frame (read %#lx)", mapped[0]);
    mapped[1] = 0xabcd;
    test_check(granted[1] == 0xabcd, "a write through the mapping is seen through the original address");
    granted[2] = 0x5678;
    test_check(mapped[2] == 0x5678, "and the other way round");
    test_check(mmuext(MMUEXT_PIN_L1_TABLE, mfn_of(GRANTED)) == -XEN_EINVAL, "a frame mapped writable through a grant cannot become a page table");

    /* Hostile requests while it is mapped. */
    test_check(unmap(MAP_VA + 0x1000, 0, m.handle) == GNTST_general_error, "unmap at an address the grant is not mapped at: general_error");
    test_check(unmap(MAP_VA, 0, m.handle + 1000) == GNTST_bad_handle, "unmap of a handle never handed out: bad_handle");
    test_check(unmap(0, (mfn_of(GRANTED) + 1) << 12, m.handle) == GNTST_okay, "unmap of a device mapping the handle does not have: okay, nothing done");
    test_check(mapped[0] == 0x1111, "and the host mapping is still there");

    test_check(unmap(MAP_VA, 0, m.handle) == GNTST_okay, "unmap_grant_ref");
    test_check((gnttab[8].flags & (GTF_reading | GTF_writing)) == 0, "the entry's GTF_reading|GTF_writing are cleared (%#x)", gnttab[8].flags);
    unsigned long before = page_faults;
    test_check(faults(MAP_VA), "the address faults after the unmap");
    test_check(page_faults == before + 1, "exactly one page fault (%lu)", page_faults - before);
    test_check(unmap(MAP_VA, 0, m.handle) == GNTST_bad_handle, "a second unmap of the handle: bad_handle");
    test_check(granted[0] == 0x1111 && granted[1] == 0xabcd, "the granted frame keeps what was written through the mapping");

    /* Nothing is held any more: remapped read-only and zeroed, the frame can be pinned as an L1. */
    memset((void *)GRANTED, 0, 4096);
    must(remap(GRANTED, mfn_of(GRANTED), false), "remap the granted frame read-only");
    test_check(mmuext(MMUEXT_PIN_L1_TABLE, mfn_of(GRANTED)) == 0, "after the unmap the frame can be pinned as a page table");
    must(mmuext(MMUEXT_UNPIN_TABLE, mfn_of(GRANTED)), "unpin");
}

/* XSA-224: host and device mappings of one handle, unmapped by two calls, drop exactly their own references. */
static void host_and_device(void)
{
    struct gnttab_map_grant_ref m = map(MAP_VA, GNTMAP_host_map | GNTMAP_device_map, 8, domid);
    if ( !test_check(m.status == GNTST_okay, "host+device map of a frame mapped read-only elsewhere") )
        return;
    test_check(!faults(MAP_VA), "the host mapping reads");
    test_check(unmap(MAP_VA, 0, m.handle) == GNTST_okay, "unmap the host mapping alone");
    test_check(faults(MAP_VA), "the host mapping is gone");
    test_check(mmuext(MMUEXT_PIN_L1_TABLE, mfn_of(GRANTED)) == -XEN_EINVAL, "the device mapping still keeps the frame writable");
    test_check(unmap(0, m.dev_bus_addr + 0x1000, m.handle) == GNTST_bad_dev_addr, "a wrong bus address: bad_dev_addr");
    test_check(unmap(0, m.dev_bus_addr, m.handle) == GNTST_okay, "unmap the device mapping");
    test_check(mmuext(MMUEXT_PIN_L1_TABLE, mfn_of(GRANTED)) == 0, "then the frame can be pinned: no reference was lost or kept");
    must(mmuext(MMUEXT_UNPIN_TABLE, mfn_of(GRANTED)), "unpin");
}

static void replace(void)
{
    *(volatile unsigned long *)OTHER = 0x7777;
    must(remap(OTHER_VA, mfn_of(OTHER), true), "map the replacement page");
    struct gnttab_map_grant_ref m = map(MAP_VA, GNTMAP_host_map | GNTMAP_readonly, 8, domid);
    if ( !test_check(m.status == GNTST_okay, "read-only map for unmap_and_replace") )
        return;
    test_check((gnttab[8].flags & (GTF_reading | GTF_writing)) == GTF_reading, "a read-only mapping sets GTF_reading only");
    struct gnttab_unmap_and_replace u = { .host_addr = MAP_VA, .new_addr = OTHER_VA, .handle = m.handle };
    must(hypercall3(HC_grant_table_op, GNTTABOP_unmap_and_replace, &u, 1), "unmap_and_replace");
    test_check(u.status == GNTST_okay, "unmap_and_replace (status %d)", u.status);
    unsigned long v = 0;
    bool read = probe_read((volatile unsigned long *)MAP_VA, &v) == 0;
    test_check(read && v == 0x7777, "the grant's address now maps the replacement (%#lx)", v);
    test_check(faults(OTHER_VA), "and the replacement's old address faults");
    test_check(gnttab[8].flags == GTF_permit_access, "the entry is no longer in use");
    must(remap(MAP_VA, 0, false), "unmap the replacement");
}

static void hostile(void)
{
    grant(9, GRANTED, GTF_permit_access | GTF_readonly);
    grant(10, (unsigned long)start_info->pt_base, GTF_permit_access); /* our L4: a page table */
    struct { uint32_t flags, ref; uint16_t dom; unsigned long addr; int16_t want; const char *what; } cases[] = {
        { 0, 8, 0, MAP_VA, GNTST_bad_gntref, "no host or device flag" },
        { GNTMAP_host_map, 100000, 0, MAP_VA, GNTST_bad_gntref, "a ref past the table" },
        { GNTMAP_host_map, 8, DOMID_SELF, MAP_VA, GNTST_bad_domain, "DOMID_SELF (map names the granter by id)" },
        { GNTMAP_host_map, 8, 0x7777, MAP_VA, GNTST_bad_domain, "a domain that does not exist" },
        { GNTMAP_host_map, 11, 0, MAP_VA, GNTST_general_error, "an invalid entry" },
        { GNTMAP_host_map, 9, 0, MAP_VA, GNTST_general_error, "writable map of a read-only grant" },
        { GNTMAP_host_map, 10, 0, MAP_VA, GNTST_general_error, "writable map of a page table" },
        { GNTMAP_host_map | GNTMAP_contains_pte, 8, 0, 0x1003, GNTST_general_error, "a misaligned PTE address" },
        { GNTMAP_host_map | GNTMAP_contains_pte, 8, 0, 0, GNTST_general_error, "a PTE address outside any L1 (machine frame 0)" },
        { GNTMAP_host_map, 8, 0, 0x0000800000000000UL, GNTST_general_error, "a non-canonical address" },
        { GNTMAP_host_map, 8, 0, 0xffff828000000000UL, GNTST_general_error, "an address in the hypervisor's range" },
        { GNTMAP_host_map, 8, 0, 1UL << 40, GNTST_general_error, "an address no L1 covers" },
    };
    for ( unsigned int i = 0; i < ARRAY_SIZE(cases); i++ )
    {
        uint16_t dom = cases[i].dom ? cases[i].dom : domid;
        struct gnttab_map_grant_ref m = map(cases[i].addr, cases[i].flags, cases[i].ref, dom);
        test_check(m.status == cases[i].want, "map with %s: status %d (want %d)", cases[i].what, m.status, cases[i].want);
    }
    test_check(gnttab[8].flags == GTF_permit_access && gnttab[9].flags == (GTF_permit_access | GTF_readonly),
               "failed maps leave the entries unpinned");
    gnttab[9].flags = 0;
    gnttab[10].flags = 0;
}

/* v2: the in-use flags move to the status frames. */
static void version2(void)
{
    uint32_t version = 2;
    if ( !test_check(hypercall3(HC_grant_table_op, GNTTABOP_set_version, &version, 1) == 0, "set_version(2)") )
        return;
    unsigned long status_mfn = 0;
    struct gnttab_get_status_frames gs = { .nr_frames = 1, .dom = DOMID_SELF, .frame_list = (unsigned long)&status_mfn };
    must(hypercall3(HC_grant_table_op, GNTTABOP_get_status_frames, &gs, 1) || gs.status, "get_status_frames");
    must(remap(STATUS_VA, status_mfn, false), "map the status frame");
    volatile struct grant_entry_v2 *e = (volatile struct grant_entry_v2 *)GNT_VA;
    volatile uint16_t *status = (volatile uint16_t *)STATUS_VA;
    must(remap(GRANTED, mfn_of(GRANTED), true), "remap the granted frame writable");
    e[8].domid = domid;
    e[8].frame = mfn_of(GRANTED);
    __asm__ volatile ("" ::: "memory");
    e[8].flags = GTF_permit_access;

    struct gnttab_map_grant_ref m = map(MAP_VA, GNTMAP_host_map, 8, domid);
    if ( test_check(m.status == GNTST_okay, "v2 map") )
    {
        test_check(status[8] == (GTF_reading | GTF_writing) && e[8].flags == GTF_permit_access,
                   "v2 keeps GTF_reading|GTF_writing in the status frame (%#x), not the entry", status[8]);
        version = 1;
        test_check(hypercall3(HC_grant_table_op, GNTTABOP_set_version, &version, 1) == -16, "no version change while an entry is mapped (-EBUSY)");
        test_check(unmap(MAP_VA, 0, m.handle) == GNTST_okay && status[8] == 0, "v2 unmap clears the status");
    }
    must(remap(STATUS_VA, 0, false), "unmap the status frame");
    version = 1;
    test_check(hypercall3(HC_grant_table_op, GNTTABOP_set_version, &version, 1) == 0, "back to set_version(1)");
}

void test_main(void)
{
    printk("grants: mapping our own grants\n");
    setup();
    map_write_read_unmap();
    host_and_device();
    replace();
    hostile();
    version2();
}
