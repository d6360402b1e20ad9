/*
 * crash - announce, then ask to be shut down with reason "crash". A runner
 * must see the domain end as crashed (no "Test result:" line is printed).
 */
#include "guest.h"

void test_main(void)
{
    printk("crash guest: reporting a crash\n");
    shutdown(SHUTDOWN_crash);

    /* The hypervisor did not take the domain down. Spin; no verdict. */
    for ( ;; )
        asm volatile ("pause");
}
