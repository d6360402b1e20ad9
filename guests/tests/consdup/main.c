/*
 * consdup - a guest that prints as Mini-OS does: every line through CONSOLEIO_write as it is and, the same line,
 * into the PV console ring with LF turned into CRLF. The first lines go to the ring without a notification (Mini-OS
 * does that before its console is initialised, so the backend picks them up later), the rest with EVTCHNOP_send each.
 * The first line goes to console_io only, one line to the ring only. The host must show every line exactly once.
 *
 * Expected console:
 *   consdup: console_io only
 *   consdup: early 1
 *   consdup: early 2
 *   consdup: late 1
 *   consdup: late 2
 *   consdup: ring only
 *   Test result: SUCCESS
 */
#include "guest.h"
#include "hypercall.h"

#define HC_event_channel_op 32
#define EVTCHNOP_send        4

/* io/console.h */
struct xencons_interface {
    char in[1024];
    char out[2048];
    uint32_t in_cons, in_prod, out_cons, out_prod;
};

static volatile struct xencons_interface *cons;

static void ring_send(const char *s, bool notify)
{
    uint32_t prod = cons->out_prod;

    for ( ; *s; s++ )
    {
        if ( *s == '\n' )
            cons->out[prod++ % sizeof(cons->out)] = '\r';
        cons->out[prod++ % sizeof(cons->out)] = *s;
    }
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    cons->out_prod = prod;
    if ( notify )
    {
        struct { uint32_t port; } send = { start_info->console.domU.evtchn };
        hypercall2(HC_event_channel_op, EVTCHNOP_send, &send);
    }
}

static void both(const char *line, bool notify)
{
    printk("%s", line);
    ring_send(line, notify);
}

void test_main(void)
{
    const uint64_t *p2m = (const uint64_t *)start_info->mfn_list;

    for ( uint64_t pfn = 0; pfn < start_info->nr_pages && !cons; pfn++ )
        if ( p2m[pfn] == start_info->console.domU.mfn )
            cons = (volatile struct xencons_interface *)(pfn << 12);
    if ( !cons )
        panic("console page (mfn %#lx) not in the P2M list", (unsigned long)start_info->console.domU.mfn);

    printk("consdup: console_io only\n");
    both("consdup: early 1\n", false);
    both("consdup: early 2\n", false);
    both("consdup: late 1\n", true);
    both("consdup: late 2\n", true);
    ring_send("consdup: ring only\n", true);
    test_exit();
}
