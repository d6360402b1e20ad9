/*
 * hostile - one misbehaviour per boot, chosen by "hostile=<mode>".
 *
 * The guest installs no trap table, so on real Xen any fault it causes is
 * unhandled and the hypervisor crashes the domain. A hypervisor must contain
 * each of these to the domain (crash it, or keep scheduling around it)
 * without harm to itself. If a mode that must fault comes back, the guest
 * prints "Test result: FAILURE".
 *
 *   write-hypervisor  store to 0xffff828000000000, then 0xffff800000000000
 *                     (inside Xen's reserved range; the second is the
 *                     read-only M2P)                      -> domain crash
 *   write-m2p         store to 0xffff800000000000 only (the read-only M2P;
 *                     write-hypervisor never gets there)  -> domain crash
 *   privileged        lgdt from a stack buffer (#GP, not emulated by Xen)
 *                                                         -> domain crash
 *   noncanonical      indirect jmp to 0x0000800000000000  -> domain crash
 *   spin              infinite loop, no hypercalls        -> runs forever
 *   notify-flood      EVTCHNOP_send on its console and store ports, for ever
 *                     (Domain 0's backends are notified without end)
 *                                                         -> runs forever
 *   anything else     "Test result: ERROR"
 */
#include "guest.h"
#include "hypercall.h"

static void write_hypervisor(void)
{
    volatile uint64_t *slot261 = (volatile uint64_t *)0xffff828000000000UL;
    volatile uint64_t *m2p = (volatile uint64_t *)HYPERVISOR_VIRT_START;

    *slot261 = 0x5858585858585858UL;
    printk("hostile: store to %p did not fault\n", (void *)slot261);
    *m2p = 0x5858585858585858UL;
    printk("hostile: store to %p did not fault\n", (void *)m2p);
}

static void write_m2p(void)
{
    volatile uint64_t *m2p = (volatile uint64_t *)HYPERVISOR_VIRT_START;

    *m2p = 0x5858585858585858UL;
    printk("hostile: store to %p did not fault\n", (void *)m2p);
}

static void privileged(void)
{
    struct __attribute__((packed)) {
        uint16_t limit;
        uint64_t base;
    } gdtr;

    gdtr.limit = 0xfff;
    gdtr.base = (uint64_t)&gdtr;
    asm volatile ("lgdt %0" :: "m" (gdtr) : "memory");
    printk("hostile: lgdt did not fault\n");
}

static void noncanonical(void)
{
    unsigned long target = 0x0000800000000000UL;

    asm volatile ("jmp *%0" :: "r" (target) : "memory");
    printk("hostile: jump to a non-canonical address came back\n");
}

static void spin(void)
{
    for ( ;; )
        asm volatile ("" ::: "memory");
}

static void notify_flood(void)
{
    struct { uint32_t port; } console = { start_info->console.domU.evtchn }, store = { start_info->store_evtchn };
    for ( ;; )
    {
        hypercall2(32 /* event_channel_op */, 4 /* EVTCHNOP_send */, &console);
        hypercall2(32, 4, &store);
    }
}

static const struct {
    const char *name;
    void (*fn)(void);
} modes[] = {
    { "write-hypervisor", write_hypervisor },
    { "write-m2p",        write_m2p },
    { "privileged",       privileged },
    { "noncanonical",     noncanonical },
    { "spin",             spin },
    { "notify-flood",     notify_flood },
};

void test_main(void)
{
    char mode[64];

    if ( !cmdline_get("hostile", mode, sizeof(mode)) )
        mode[0] = '\0';

    printk("hostile: %s\n", mode[0] ? mode : "(none)");

    for ( unsigned int i = 0; i < ARRAY_SIZE(modes); i++ )
    {
        if ( strcmp(mode, modes[i].name) )
            continue;

        console_flush();
        modes[i].fn();
        test_failure("hostile: mode '%s' survived", mode);
        test_exit();
    }

    printk("hostile: modes are");
    for ( unsigned int i = 0; i < ARRAY_SIZE(modes); i++ )
        printk(" %s", modes[i].name);
    printk("\n");
    test_error("hostile: unknown or missing mode (cmdline \"%s\")", cmdline());
    test_exit();
}
