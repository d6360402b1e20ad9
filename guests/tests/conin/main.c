/*
 * conin - console input through the PV console ring (what `xl console` gives a domU).
 *
 * Maps its console page (start_info console.domU.mfn), then reads the in ring until a line ends ('\n' or '\r'),
 * consuming what it read (in_cons) and telling the backend (EVTCHNOP_send on the console port). Prints
 * "conin: got '<line>'" with anything not printable shown as '?', then SUCCESS. The host types the line (xensharp
 * run's standard input). It has no time limit of its own: it waits for as long as the host takes, and the host's
 * limit (a test's, or `xensharp run --timeout`) ends it otherwise - so a test can keep a domain running for as long
 * as it needs and end the run by typing the line.
 */
#include "guest.h"
#include "hypercall.h"

#define HC_update_va_mapping  14
#define HC_event_channel_op   32
#define EVTCHNOP_send          4
#define CONSOLE_VA            0x3fe000UL

/* struct xencons_interface (io/console.h): in[1024], out[2048], in_cons, in_prod, out_cons, out_prod. */
struct xencons_interface {
    char in[1024];
    char out[2048];
    uint32_t in_cons, in_prod, out_cons, out_prod;
};
_Static_assert(__builtin_offsetof(struct xencons_interface, in_cons) == 3072, "xencons_interface");

void test_main(void)
{
    if ( hypercall3(HC_update_va_mapping, CONSOLE_VA, (start_info->console.domU.mfn << 12) | 0x23, 2) != 0 )
        panic("cannot map the console page");
    volatile struct xencons_interface *cons = (volatile struct xencons_interface *)CONSOLE_VA;
    struct { uint32_t port; } send = { start_info->console.domU.evtchn };

    printk("conin: waiting for a line on the console\n");
    char line[128];
    unsigned int len = 0;
    bool ended = false;
    while ( !ended )
    {
        uint32_t c = cons->in_cons, p = cons->in_prod;
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        if ( c == p )
        {
            sched_yield();
            continue;
        }

        while ( c != p && !ended )
        {
            char ch = cons->in[c++ % sizeof(cons->in)];
            if ( ch == '\n' || ch == '\r' )
                ended = true;
            else if ( len < sizeof(line) - 1 )
                line[len++] = ch >= 0x20 && ch < 0x7f ? ch : '?';
        }
        __atomic_thread_fence(__ATOMIC_RELEASE);
        cons->in_cons = c;
        hypercall2(HC_event_channel_op, EVTCHNOP_send, &send);
    }
    line[len] = '\0';
    test_success("conin: got '%s'", line);
}
