/*
 * conin - console input through the PV console ring (what `xl console` gives a domU).
 *
 * Maps its console page (start_info console.domU.mfn), then reads the in ring until a line ends ('\n' or '\r')
 * or 20 s of system time pass, consuming what it read (in_cons) and telling the backend (EVTCHNOP_send on the
 * console port). Prints "conin: got '<line>'" with anything not printable shown as '?', then the verdict:
 * SUCCESS if a line arrived, FAILURE if none did. The host types the line (xensharp run's standard input).
 */
#include "guest.h"
#include "hypercall.h"

#define HC_update_va_mapping  14
#define HC_event_channel_op   32
#define EVTCHNOP_send          4
#define CONSOLE_VA            0x3fe000UL
#define SHARED_INFO_VA        0x3ff000UL

/* struct xencons_interface (io/console.h): in[1024], out[2048], in_cons, in_prod, out_cons, out_prod. */
struct xencons_interface {
    char in[1024];
    char out[2048];
    uint32_t in_cons, in_prod, out_cons, out_prod;
};
_Static_assert(__builtin_offsetof(struct xencons_interface, in_cons) == 3072, "xencons_interface");

void test_main(void)
{
    if ( hypercall3(HC_update_va_mapping, CONSOLE_VA, (start_info->console.domU.mfn << 12) | 0x23, 2) != 0 ||
         hypercall3(HC_update_va_mapping, SHARED_INFO_VA, (start_info->shared_info & ~0xfffUL) | 0x23, 2) != 0 )
        panic("cannot map the console page or shared_info");
    volatile struct xencons_interface *cons = (volatile struct xencons_interface *)CONSOLE_VA;
    volatile struct shared_info *shared = (volatile struct shared_info *)SHARED_INFO_VA;
    struct { uint32_t port; } send = { start_info->console.domU.evtchn };

    printk("conin: waiting for a line on the console\n");
    char line[128];
    unsigned int len = 0;
    bool ended = false;
    uint64_t deadline = pvclock_read(&shared->vcpu_info[0].time) + 20000000000ULL;
    while ( !ended && pvclock_read(&shared->vcpu_info[0].time) < deadline )
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

    if ( ended )
        test_success("conin: got '%s'", line);
    else
        test_failure("conin: no line within 20 s (%u bytes: '%s')", len, line);
}
