/*
 * guest.h - the test-guest library API (everything outside xen.h/hypercall.h).
 *
 * Start of day: head.S switches to a 16 KiB .bss stack and calls
 * kmain(start_info) in setup.c, which checks the environment, then calls the
 * guest's test_main(). If test_main() returns, the verdict collected so far is
 * reported (test_exit()).
 */
#ifndef GUEST_GUEST_H
#define GUEST_GUEST_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "xen.h"

#define NORETURN __attribute__((noreturn))
#define PRINTF(f, a) __attribute__((format(printf, f, a)))

/* Provided by each guest (tests/<name>/main.c). */
void test_main(void);

/* ---- setup.c ---- */
extern const struct start_info *start_info;   /* as passed in RSI */

/* ---- console.c ---- */
/* Formats: %s %c %d %i %u %x %X %p %%, with optional flags '0' '-' '#'
 * (0x prefix), field width and l/ll/z length modifiers (%lx, %#lx, %016lx...). Output is buffered
 * and written with CONSOLEIO_write at each '\n' (or when the buffer fills). */
int printk(const char *fmt, ...) PRINTF(1, 2);
int vprintk(const char *fmt, va_list ap);
int snprintf(char *buf, size_t size, const char *fmt, ...) PRINTF(3, 4);
int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
void console_write(const char *s, size_t len);   /* unbuffered */
void console_flush(void);

/* ---- shutdown / scheduling (setup.c) ---- */
long sched_yield(void);
long shutdown(unsigned int reason);          /* returns only if the call failed */
NORETURN void poweroff(void);                /* shutdown(poweroff), then yield forever */
NORETURN void panic(const char *fmt, ...) PRINTF(1, 2);  /* "PANIC: ...", shutdown(crash) */

/* ---- cmdline.c ---- */
const char *cmdline(void);                   /* start_info->cmd_line */
/* Value of the first "key=value" word on the command line, copied to buf.
 * Returns true if the key is present ("key" alone gives ""). */
bool cmdline_get(const char *key, char *buf, size_t size);
bool cmdline_has(const char *word);          /* "word" or "word=..." present */

/* ---- report.c ---- */
enum test_status {
    TEST_SUCCESS = 0,   /* order = severity: the worst one reported wins */
    TEST_SKIP,
    TEST_ERROR,
    TEST_FAILURE,
};

void test_success(const char *fmt, ...) PRINTF(1, 2);  /* "[PASS] ..." */
void test_skip(const char *fmt, ...) PRINTF(1, 2);     /* "[SKIP] ..." */
void test_error(const char *fmt, ...) PRINTF(1, 2);    /* "[ERROR] ..." */
void test_failure(const char *fmt, ...) PRINTF(1, 2);  /* "[FAIL] ..." */
/* test_success() if ok, else test_failure(); returns ok. */
bool test_check(bool ok, const char *fmt, ...) PRINTF(2, 3);
enum test_status test_status(void);
const char *test_status_name(enum test_status s);
/* Print "Test result: <STATUS>" and power off. */
NORETURN void test_exit(void);
/* Record a status silently, then test_exit(). */
NORETURN void test_exit_with(enum test_status s);

/* ---- event_entry.S ---- */
/* The event callback to register (set_callbacks / CALLBACKOP_register): saves the caller-saved registers,
 * calls do_event() with events masked, returns through the iret hypercall. */
void event_entry(void);
void do_event(void);                         /* provided by a guest that registers event_entry */

/* ---- secondary_entry.S ---- */
/* A further vCPU's first instruction (VCPUOP_initialise's rip, with its stack in the context): calls the guest's
 * secondary_main(), never returns. */
void secondary_entry(void);
void secondary_main(void);                   /* provided by a guest that brings up a further vCPU */

/* ---- fault_probe.S ---- */
/* 0 and *value = *p, or 1 if the read faulted; needs probe_page_fault_entry as the #PF handler (trap 14). */
int probe_read(const volatile unsigned long *p, unsigned long *value);
void probe_page_fault_entry(void);
extern unsigned long page_faults;            /* faults probe_read took */
void unexpected_fault(unsigned long rip);    /* provided by a guest using the probe: any other #PF; must not return */

/* ---- pvclock.c ---- */
/* Xen system time (ns) as a guest computes it from a vcpu_time_info (the version protocol, then the TSC scaled). */
uint64_t pvclock_read(const volatile struct vcpu_time_info *t);
/* The 2-level ABI's event handling: clears the vCPU's pending flags and selector, then clears and counts every
 * pending, unmasked port (counts[port]++; 4096 entries). */
void evtchn_2l_consume(volatile struct shared_info *s, volatile struct vcpu_info *vi, volatile unsigned long *counts);

/* ---- string.c ---- */
void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
void *memmove(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
size_t strnlen(const char *s, size_t max);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);
char *strstr(const char *hay, const char *needle);

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#endif /* GUEST_GUEST_H */
