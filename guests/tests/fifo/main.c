/*
 * fifo: the FIFO event-channel ABI, as a guest sees it.
 *
 * The guest registers a control block for vCPU 0 (EVTCHNOP_init_control), binds a loopback channel before it has an
 * event array (alloc_unbound + bind_interdomain with DOMID_SELF; the bind raises the new port, which must wait for
 * its event word), adds one event-array page (EVTCHNOP_expand_array), then sends on its own channels with events
 * masked in vcpu_info and checks the queue state in guest memory: the event word (PENDING, LINKED, link), the queue
 * head in the control block, the ready bits and evtchn_upcall_pending. Unmasking events with a hypercall then takes the
 * upcall, whose handler walks the ready queues highest priority first and records every event it consumes. Covered:
 * argument checks, plain delivery, two priorities, FIFO order within a queue, and a masked event re-linked by
 * EVTCHNOP_unmask. Ends with "Test result: SUCCESS" or FAILURE.
 */
#include "guest.h"
#include "hypercall.h"

#define HC_update_va_mapping  14
#define HC_callback_op        30
#define HC_event_channel_op   32

#define CALLBACKOP_register    0
#define CALLBACKTYPE_event     0
#define UVMF_INVLPG            2

#define EVTCHNOP_bind_interdomain  0
#define EVTCHNOP_close             3
#define EVTCHNOP_send              4
#define EVTCHNOP_alloc_unbound     6
#define EVTCHNOP_unmask            9
#define EVTCHNOP_init_control     11
#define EVTCHNOP_expand_array     12
#define EVTCHNOP_set_priority     13

#define XEN_EOPNOTSUPP 95

/* FIFO ABI (public/event_channel.h). */
#define FIFO_PENDING   (1u << 31)
#define FIFO_MASKED    (1u << 30)
#define FIFO_LINKED    (1u << 29)
#define FIFO_BUSY      (1u << 28)
#define FIFO_LINK_BITS 17
#define FIFO_LINK_MASK ((1u << FIFO_LINK_BITS) - 1)
#define FIFO_QUEUES    16
#define PRIO_DEFAULT   7

#define _PAGE_PRESENT  0x001UL
#define _PAGE_RW       0x002UL
#define _PAGE_ACCESSED 0x020UL

#define SHARED_INFO_VA 0x3ff000UL

struct evtchn_alloc_unbound { domid_t dom, remote_dom; uint32_t port; };
struct evtchn_bind_interdomain { domid_t remote_dom; uint32_t remote_port; uint32_t local_port; };
struct evtchn_init_control { uint64_t control_gfn; uint32_t offset; uint32_t vcpu; uint8_t link_bits; uint8_t pad[7]; };
struct evtchn_set_priority { uint32_t port; uint32_t priority; };
struct fifo_control_block { uint32_t ready; uint32_t rsvd; uint32_t head[FIFO_QUEUES]; };
struct callback_register { uint16_t type; uint16_t flags; unsigned long address; };

_Static_assert(sizeof(struct evtchn_init_control) == 24, "evtchn_init_control");
_Static_assert(sizeof(struct fifo_control_block) == 72, "control block");


static uint8_t control_page[4096] __attribute__((aligned(4096)));
static uint32_t event_array[1024] __attribute__((aligned(4096)));
static volatile struct fifo_control_block *const cb = (volatile struct fifo_control_block *)control_page;
static volatile uint32_t *const words = event_array;
static volatile uint8_t *const vcpu0 = (volatile uint8_t *)SHARED_INFO_VA; /* upcall_pending @0, upcall_mask @1 */

/* What the upcall handler consumed, in order. */
static struct { uint32_t priority, port; } seen[16];
static unsigned int nseen, upcalls;

static unsigned long gfn_of(const void *va)
{
    const unsigned long *p2m = (const unsigned long *)start_info->mfn_list;
    return p2m[(unsigned long)va >> 12];
}

static long evtchn_op(int cmd, void *arg)
{
    return hypercall2(HC_event_channel_op, cmd, arg);
}

static void must(long rc, const char *what)
{
    if ( rc != 0 )
        panic("%s failed: %ld", what, rc);
}

static long init_control(unsigned long gfn, uint32_t offset, uint32_t vcpu, uint8_t *link_bits)
{
    struct evtchn_init_control ic = { .control_gfn = gfn, .offset = offset, .vcpu = vcpu };
    long rc = evtchn_op(EVTCHNOP_init_control, &ic);
    if ( link_bits )
        *link_bits = ic.link_bits;
    return rc;
}

static long expand(unsigned long gfn)
{
    uint64_t g = gfn;
    return evtchn_op(EVTCHNOP_expand_array, &g);
}

static long set_priority(uint32_t port, uint32_t priority)
{
    struct evtchn_set_priority sp = { port, priority };
    return evtchn_op(EVTCHNOP_set_priority, &sp);
}

static long send(uint32_t port)
{
    return evtchn_op(EVTCHNOP_send, &port);
}

/* A loopback channel: *remote is the end to send on, the returned port is the one that gets the events. */
static uint32_t loopback(uint32_t *remote)
{
    struct evtchn_alloc_unbound au = { DOMID_SELF, DOMID_SELF, 0 };
    must(evtchn_op(EVTCHNOP_alloc_unbound, &au), "alloc_unbound");
    struct evtchn_bind_interdomain bi = { DOMID_SELF, au.port, 0 };
    must(evtchn_op(EVTCHNOP_bind_interdomain, &bi), "bind_interdomain");
    if ( bi.local_port >= 1024 )
        panic("port %u beyond the one event-array page", bi.local_port);
    *remote = au.port;
    return bi.local_port;
}

/* The guest's side of the FIFO ABI: take every ready queue, highest priority first, unlink and acknowledge each event. */
void do_event(void)
{
    upcalls++;
    vcpu0[0] = 0; /* evtchn_upcall_pending */
    uint32_t ready = __atomic_exchange_n(&cb->ready, 0, __ATOMIC_SEQ_CST);
    for ( unsigned int q = 0; q < FIFO_QUEUES; q++ )
    {
        if ( !(ready & (1u << q)) )
            continue;
        uint32_t port = __atomic_exchange_n(&cb->head[q], 0, __ATOMIC_SEQ_CST);
        for ( unsigned int guard = 0; port != 0 && port < 1024 && guard < 64; guard++ )
        {
            uint32_t old = __atomic_fetch_and(&words[port], ~(FIFO_LINKED | FIFO_LINK_MASK), __ATOMIC_SEQ_CST);
            if ( (old & FIFO_PENDING) && !(old & FIFO_MASKED) )
            {
                __atomic_fetch_and(&words[port], ~FIFO_PENDING, __ATOMIC_SEQ_CST);
                if ( nseen < ARRAY_SIZE(seen) )
                {
                    seen[nseen].priority = q;
                    seen[nseen].port = port;
                }
                nseen++;
            }
            port = old & FIFO_LINK_MASK;
        }
    }
}

/* Unmask events in vcpu_info and make a hypercall: the upcall is delivered on its way back. Then mask again. */
static void take_upcalls(void)
{
    nseen = 0;
    upcalls = 0;
    __atomic_store_n(&vcpu0[1], 0, __ATOMIC_SEQ_CST);
    hc_xen_version(XENVER_version, NULL);
    __atomic_store_n(&vcpu0[1], 1, __ATOMIC_SEQ_CST);
}

static bool seen_is(unsigned int n, uint32_t prio0, uint32_t port0, uint32_t prio1, uint32_t port1)
{
    return nseen == n && seen[0].priority == prio0 && seen[0].port == port0
        && (n < 2 || (seen[1].priority == prio1 && seen[1].port == port1));
}

static void argument_checks(void)
{
    uint8_t bits = 0;
    test_check(expand(gfn_of(event_array)) == -XEN_EOPNOTSUPP, "expand_array before init_control: -EOPNOTSUPP");
    test_check(set_priority(0, 3) == -XEN_ENOSYS, "set_priority with 2-level: -ENOSYS");
    test_check(init_control(gfn_of(control_page), 0, 4096, NULL) == -XEN_ENOENT, "init_control vcpu 4096: -ENOENT");
    test_check(init_control(gfn_of(control_page), 4, 0, NULL) == -XEN_EINVAL, "init_control offset 4 (unaligned): -EINVAL");
    test_check(init_control(gfn_of(control_page), 4032, 0, NULL) == -XEN_EINVAL, "init_control offset 4032 (crosses the page): -EINVAL");
    test_check(init_control((unsigned long)-2, 0, 0, NULL) == -XEN_EINVAL, "init_control with a bad frame: -EINVAL");
    test_check(expand(gfn_of(event_array)) == -XEN_EOPNOTSUPP, "still 2-level after the failed init_control calls");

    long rc = init_control(gfn_of(control_page), 0, 0, &bits);
    test_check(rc == 0 && bits == FIFO_LINK_BITS, "init_control vCPU 0: %ld, link_bits %u", rc, bits);
    test_check(init_control(gfn_of(control_page), 0, 0, NULL) == -XEN_EINVAL, "a second init_control for vCPU 0: -EINVAL");
}

void test_main(void)
{
    printk("fifo: FIFO event channels\n");
    unsigned long pte = (start_info->shared_info & ~0xfffUL) | _PAGE_PRESENT | _PAGE_RW | _PAGE_ACCESSED;
    must(hypercall3(HC_update_va_mapping, SHARED_INFO_VA, pte, UVMF_INVLPG), "map shared_info");
    __atomic_store_n(&vcpu0[1], 1, __ATOMIC_SEQ_CST);
    struct callback_register ev = { CALLBACKTYPE_event, 0, (unsigned long)event_entry };
    must(hypercall2(HC_callback_op, CALLBACKOP_register, &ev), "register the event callback");

    argument_checks();

    /* A channel bound before the event array exists: its bind-time event waits for the page. */
    uint32_t p, l = loopback(&p);
    for ( unsigned int i = 0; i < 1024; i++ )
        event_array[i] = FIFO_MASKED;
    long rc = expand(gfn_of(event_array));
    test_check(rc == 0, "expand_array: %ld", rc);
    test_check(words[l] == (FIFO_PENDING | FIFO_MASKED),
               "the bind's event, raised before the page existed, is pending (masked, not linked): %#x", words[l]);
    test_check(set_priority(l, 16) == -XEN_EINVAL, "set_priority 16: -EINVAL");

    /* Plain delivery on the default queue. */
    words[l] = 0;
    must(send(p), "send");
    test_check(words[l] == (FIFO_PENDING | FIFO_LINKED) && cb->head[PRIO_DEFAULT] == l
               && cb->ready == (1u << PRIO_DEFAULT) && vcpu0[0] == 1,
               "send links port %u at the head of queue 7: word %#x head %u ready %#x upcall_pending %u",
               l, words[l], cb->head[PRIO_DEFAULT], cb->ready, vcpu0[0]);
    take_upcalls();
    test_check(upcalls == 1 && seen_is(1, PRIO_DEFAULT, l, 0, 0),
               "the upcall arrives with port %u on queue 7 (%u upcalls, %u events, first %u/%u)",
               l, upcalls, nseen, seen[0].priority, seen[0].port);

    /* Two priorities: the higher one is consumed first. */
    uint32_t p2, l2 = loopback(&p2);
    words[l2] = 0;
    test_check(set_priority(l2, 2) == 0, "set_priority(%u, 2)", l2);
    must(send(p), "send");
    must(send(p2), "send");
    test_check(cb->head[PRIO_DEFAULT] == l && cb->head[2] == l2 && cb->ready == ((1u << PRIO_DEFAULT) | (1u << 2)),
               "two queues: head[7] %u head[2] %u ready %#x", cb->head[PRIO_DEFAULT], cb->head[2], cb->ready);
    take_upcalls();
    test_check(seen_is(2, 2, l2, PRIO_DEFAULT, l), "priority 2 is consumed before priority 7 (%u events)", nseen);

    /* FIFO order within one queue. */
    uint32_t p3, l3 = loopback(&p3);
    words[l3] = 0;
    must(send(p3), "send");
    must(send(p), "send");
    test_check(cb->head[PRIO_DEFAULT] == l3 && (words[l3] & FIFO_LINK_MASK) == l && (words[l3] & FIFO_LINKED),
               "queue 7 is %u -> %u: head %u, word %#x", l3, l, cb->head[PRIO_DEFAULT], words[l3]);
    take_upcalls();
    test_check(upcalls == 1 && seen_is(2, PRIO_DEFAULT, l3, PRIO_DEFAULT, l), "one upcall, events in raise order");

    /* A masked event stays pending and unlinked until EVTCHNOP_unmask re-links it. */
    __atomic_fetch_or(&words[l], FIFO_MASKED, __ATOMIC_SEQ_CST);
    must(send(p), "send");
    test_check(words[l] == (FIFO_PENDING | FIFO_MASKED) && cb->ready == 0 && vcpu0[0] == 0,
               "a masked event is only pending: word %#x ready %#x upcall_pending %u", words[l], cb->ready, vcpu0[0]);
    take_upcalls();
    test_check(nseen == 0, "no event is delivered while it is masked (%u)", nseen);
    __atomic_fetch_and(&words[l], ~FIFO_MASKED, __ATOMIC_SEQ_CST);
    must(evtchn_op(EVTCHNOP_unmask, &l), "unmask");
    test_check(words[l] == (FIFO_PENDING | FIFO_LINKED) && cb->head[PRIO_DEFAULT] == l && vcpu0[0] == 1,
               "EVTCHNOP_unmask links the pending event: word %#x head %u upcall_pending %u",
               words[l], cb->head[PRIO_DEFAULT], vcpu0[0]);
    take_upcalls();
    test_check(seen_is(1, PRIO_DEFAULT, l, 0, 0), "and the upcall delivers it (%u events)", nseen);

    uint32_t ports[] = { p, l, p2, l2, p3, l3 };
    for ( unsigned int i = 0; i < ARRAY_SIZE(ports); i++ )
        must(evtchn_op(EVTCHNOP_close, &ports[i]), "close");
    test_exit();
}
