/*
 * hypercalls - smoke test of the basic hypercalls and start_info.
 *
 * One "[PASS]/[FAIL] ..." line per check, then "Test result: ...".
 */
#include "guest.h"
#include "hypercall.h"

static void check_start_info(void)
{
    const struct start_info *si = start_info;

    test_check(!strncmp(si->magic, XEN_START_MAGIC, strlen(XEN_START_MAGIC)),
               "start_info magic: \"%s\"",
               si->magic[sizeof(si->magic) - 1] ? "(unterminated)" : si->magic);
    test_check(si->nr_pages > 0, "start_info nr_pages: %lu", si->nr_pages);
    test_check(si->shared_info != 0, "start_info shared_info: %#lx",
               si->shared_info);
    printk("  start_info flags %#x, store mfn %#lx evtchn %u, pt_base %#lx (%lu frames), mfn_list %#lx\n",
           si->flags, si->store_mfn, si->store_evtchn, si->pt_base,
           si->nr_pt_frames, si->mfn_list);
    printk("  cmdline \"%s\"\n", si->cmd_line);
}

static void dump_stub(unsigned int n)
{
    const uint8_t *p = &hypercall_page[n * 32];
    char line[32 * 3 + 1];

    for ( unsigned int i = 0; i < 32; i++ )
        snprintf(&line[i * 3], 4, "%02x ", p[i]);
    line[sizeof(line) - 2] = '\0';
    printk("  stub %3u: %s\n", n, line);
}

/*
 * Stub n (checklist 2.2) is
 *   push %rcx; push %r11; mov $n,%eax; syscall; pop %r11; pop %rcx; ret
 * except iret (23), which is jumped to and never returns:
 *   push %rcx; push %r11; push %rax; mov $23,%eax; syscall
 */
static void check_hypercall_page(void)
{
    static const unsigned int probe[] = { 0, HC_memory_op, HC_xen_version,
                                          HC_sched_op, 60, 127 };
    static const uint8_t iret_stub[] = {
        0x51, 0x41, 0x53, 0x50, 0xb8, HC_iret, 0, 0, 0, 0x0f, 0x05,
    };
    char list[64];
    size_t len = 0;
    int bad = -1;

    for ( unsigned int i = 0; i < ARRAY_SIZE(probe); i++ )
    {
        unsigned int n = probe[i];
        const uint8_t expect[] = {
            0x51, 0x41, 0x53, 0xb8, n & 0xff, (n >> 8) & 0xff, 0, 0,
            0x0f, 0x05, 0x41, 0x5b, 0x59, 0xc3,
        };

        len += snprintf(&list[len], sizeof(list) - len, "%s%u", i ? "," : "", n);
        if ( bad < 0 && memcmp(&hypercall_page[n * 32], expect, sizeof(expect)) )
            bad = n;
    }

    dump_stub(HC_xen_version);
    dump_stub(HC_iret);

    if ( bad >= 0 )
    {
        dump_stub(bad);
        test_failure("hypercall page: stub %d does not have the push/mov/syscall/pop/ret layout",
                     bad);
    }
    else
        test_success("hypercall page: stubs %s have the push/mov/syscall/pop/ret layout",
                     list);

    test_check(!memcmp(&hypercall_page[HC_iret * 32], iret_stub, sizeof(iret_stub)),
               "hypercall page: iret stub is push rcx/r11/rax; mov $23; syscall");
}

static void check_xen_version(void)
{
    static char extra[16 + 1];
    static char caps[1024 + 1];
    struct xen_feature_info fi = { .submap_idx = 0 };
    long rc;

    rc = hc_xen_version(XENVER_version, NULL);
    test_check(rc > 0 && (rc >> 16) >= 3, "XENVER_version: %ld.%ld (%#lx)",
               rc >> 16, rc & 0xffff, rc);

    rc = hc_xen_version(XENVER_extraversion, extra);
    test_check(rc == 0, "XENVER_extraversion: rc %ld, \"%s\"", rc, extra);

    rc = hc_xen_version(XENVER_capabilities, caps);
    test_check(rc == 0 && strstr(caps, "xen-3.0-x86_64"),
               "XENVER_capabilities: rc %ld, \"%s\"", rc, caps);

    rc = hc_xen_version(XENVER_get_features, &fi);
    if ( test_check(rc == 0, "XENVER_get_features(0): rc %ld, submap %#x",
                    rc, fi.submap) )
    {
        bool dom0 = start_info->flags & SIF_INITDOMAIN;

        test_check(!(fi.submap & (1u << XENFEAT_auto_translated_physmap)),
                   "XENVER_get_features: auto_translated_physmap clear");
        test_check(!!(fi.submap & (1u << XENFEAT_dom0)) == dom0,
                   "XENVER_get_features: dom0 bit %s, SIF_INITDOMAIN %s",
                   (fi.submap & (1u << XENFEAT_dom0)) ? "set" : "clear",
                   dom0 ? "set" : "clear");
    }

    rc = hc_xen_version(XENVER_pagesize, NULL);
    test_check(rc == 4096, "XENVER_pagesize: %ld", rc);
}

static void check_memory_op(void)
{
    domid_t self = DOMID_SELF;
    long cur, max;

    cur = hc_memory_op(XENMEM_current_reservation, &self);
    test_check(cur > 0, "XENMEM_current_reservation: %ld pages (start_info nr_pages %lu)",
               cur, start_info->nr_pages);

    max = hc_memory_op(XENMEM_maximum_reservation, &self);
    test_check(max > 0 && max >= cur, "XENMEM_maximum_reservation: %ld pages", max);
}

static void check_misc(void)
{
    long rc;

    /* No stub needed: raw `syscall` from guest kernel mode is a hypercall. */
    rc = raw_hypercall5(60, 0, 0, 0, 0, 0);
    test_check(rc == -XEN_ENOSYS, "unknown hypercall 60 via raw syscall: %ld (want %d)",
               rc, -XEN_ENOSYS);

    rc = hc_vm_assist(VMASST_CMD_enable, VMASST_TYPE_writable_pagetables);
    test_check(rc == 0, "vm_assist(enable, writable_pagetables): %ld", rc);

    rc = hc_console_io(CONSOLEIO_write, 0, "");
    test_check(rc == 0, "console_io(write, 0 bytes): %ld", rc);
}

void test_main(void)
{
    printk("hypercalls: basic hypercall smoke test\n");

    check_start_info();
    check_hypercall_page();
    check_xen_version();
    check_memory_op();
    check_misc();
}
