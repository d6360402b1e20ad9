/*
 * setup.c - kmain(), shutdown/yield helpers and panic().
 */
#include "guest.h"
#include "hypercall.h"

const struct start_info *start_info;

/* Never written: if it is not zero at start of day, .bss was not cleared by
 * the domain builder (it must zero p_memsz - p_filesz of each PT_LOAD). */
static volatile unsigned long bss_canary[8];

long sched_yield(void)
{
    return hc_sched_op(SCHEDOP_yield, NULL);
}

long shutdown(unsigned int reason)
{
    struct sched_shutdown s = { .reason = reason };

    console_flush();
    return hc_sched_op(SCHEDOP_shutdown, &s);
}

void poweroff(void)
{
    shutdown(SHUTDOWN_poweroff);
    /* Still here: the hypervisor refused. Keep out of the way politely. */
    for ( ;; )
        sched_yield();
}

void panic(const char *fmt, ...)
{
    va_list ap;

    console_flush();
    printk("PANIC: ");
    va_start(ap, fmt);
    vprintk(fmt, ap);
    va_end(ap);
    printk("\n");
    shutdown(SHUTDOWN_crash);
    for ( ;; )
        asm volatile ("pause");
}

/* The hypercall page is unusable, so talk to the hypervisor with inline
 * `syscall` (what Linux >= 6.1.121 does), report and crash. */
static NORETURN void raw_panic(const char *msg)
{
    static const char prefix[] = "PANIC: ";
    struct sched_shutdown s = { .reason = SHUTDOWN_crash };

    raw_hypercall3(HC_console_io, CONSOLEIO_write, sizeof(prefix) - 1, prefix);
    raw_hypercall3(HC_console_io, CONSOLEIO_write, strlen(msg), msg);
    raw_hypercall3(HC_console_io, CONSOLEIO_write, 1, "\n");
    raw_hypercall2(HC_sched_op, SCHEDOP_shutdown, &s);
    for ( ;; )
        asm volatile ("pause");
}

void kmain(const struct start_info *si);

void kmain(const struct start_info *si)
{
    start_info = si;

    /* head.S filled the page with 0xc3; the builder must have replaced it. */
    if ( *(volatile uint8_t *)hypercall_page == 0xc3 )
        raw_panic("hypercall page not populated by the hypervisor");

    for ( unsigned int i = 0; i < ARRAY_SIZE(bss_canary); i++ )
        if ( bss_canary[i] )
            panic(".bss not zeroed by the domain builder");

    if ( !si )
        panic("no start_info pointer in RSI");

    test_main();
    test_exit();
}
