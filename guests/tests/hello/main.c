/*
 * hello - the smallest useful guest: print, ask the hypervisor its version,
 * report success, power off.
 *
 * Expected console:
 *   Hello, world! This is a Xen PV guest on XenSharp.
 *   Xen version <major>.<minor>
 *   Test result: SUCCESS
 */
#include "guest.h"
#include "hypercall.h"

void test_main(void)
{
    long ver;

    printk("Hello, world! This is a Xen PV guest on XenSharp.\n");

    ver = hc_xen_version(XENVER_version, NULL);
    printk("Xen version %d.%d\n", (int)(ver >> 16), (int)(ver & 0xffff));

    /* Prints "Test result: SUCCESS" and powers off; if the poweroff returns,
     * yields forever. */
    test_exit();
}
