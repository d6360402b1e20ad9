/*
 * report.c - verdict collection, XTF-compatible final line.
 *
 * Each test_*() call prints one "[TAG] message" line and raises the overall
 * status; severity SUCCESS < SKIP < ERROR < FAILURE and the worst wins. The
 * last console line is "Test result: <STATUS>", after which the guest
 * powers off, so a runner can take the verdict from the last line.
 */
#include "guest.h"

static enum test_status status = TEST_SUCCESS;

static const char *const names[] = {
    [TEST_SUCCESS] = "SUCCESS",
    [TEST_SKIP]    = "SKIP",
    [TEST_ERROR]   = "ERROR",
    [TEST_FAILURE] = "FAILURE",
};

const char *test_status_name(enum test_status s)
{
    return (unsigned int)s < ARRAY_SIZE(names) ? names[s] : "ERROR";
}

enum test_status test_status(void)
{
    return status;
}

static void raise_status(enum test_status s)
{
    if ( s > status )
        status = s;
}

static void vreport(enum test_status s, const char *tag, const char *fmt,
                    va_list ap)
{
    raise_status(s);
    printk("[%s] ", tag);
    vprintk(fmt, ap);
    printk("\n");
}

#define DEFINE_REPORT(fn, st, tag)                  \
void fn(const char *fmt, ...)                       \
{                                                   \
    va_list ap;                                     \
                                                    \
    va_start(ap, fmt);                              \
    vreport(st, tag, fmt, ap);                      \
    va_end(ap);                                     \
}

DEFINE_REPORT(test_success, TEST_SUCCESS, "PASS")
DEFINE_REPORT(test_skip,    TEST_SKIP,    "SKIP")
DEFINE_REPORT(test_error,   TEST_ERROR,   "ERROR")
DEFINE_REPORT(test_failure, TEST_FAILURE, "FAIL")

bool test_check(bool ok, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vreport(ok ? TEST_SUCCESS : TEST_FAILURE, ok ? "PASS" : "FAIL", fmt, ap);
    va_end(ap);
    return ok;
}

void test_exit(void)
{
    console_flush();
    printk("Test result: %s\n", test_status_name(status));
    poweroff();
}

void test_exit_with(enum test_status s)
{
    raise_status(s);
    test_exit();
}
