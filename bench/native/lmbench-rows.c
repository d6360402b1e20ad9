/*
 * lmbench-rows.c - the operating-system rows of the Xen paper's lmbench table (SOSP 2003, Table 3 and
 * Figure 3), measured by one small static program of our own: run natively on the host and inside the Linux
 * domU in the same bench run (bench/README.md, figure (e)). Written for XenSharp; it shares no code with lmbench,
 * only the idea of each row.
 *
 *   lmbench-rows [DIVISOR]   runs every row; each row's count is its base count / DIVISOR (at least 1; default 1)
 *   lmbench-rows --exit      exits 0 at once: the program the fork+exec row executes
 *
 * Rows (per operation; the time of the whole loop by clock_gettime(CLOCK_MONOTONIC), divided by its count):
 *   null_syscall  syscall(SYS_getppid), never cached by libc
 *   fork_exit     fork(); the child _exit(0)s; the parent waitpid()s it
 *   fork_exec     fork(); the child execve()s this program with --exit; the parent waitpid()s it
 *   ctxsw_pipe    two processes pass one byte back and forth over two pipes; one operation is one switch
 *                 (half a round trip), the pipe's own cost included
 *   page_fault    a read of each page of a fresh MAP_SHARED mapping of a file in the page cache: one minor fault
 *                 per page (the file is rewritten to the cache first)
 *   mmap_file     mmap() of a 1 MiB file (PROT_READ, MAP_SHARED), a read of its first byte, munmap()
 *
 * Output, one line each, machine-readable (bench/XenSharp.Bench/LmbenchOutput.cs parses it):
 *   lmbench-rows: begin divisor=D
 *   lmbench-rows: row NAME n=COUNT ns=NANOSECONDS_PER_OP
 *   lmbench-rows: end
 * A failure prints "lmbench-rows: error WHAT: STRERROR" and exits 1.
 * The scratch file lives in $TMPDIR (default /tmp) and is removed at the end.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#define PAGE 4096L
#define MMAP_BYTES (1L << 20)

static char scratch[512];

static double now_ns(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e9 + t.tv_nsec;
}

static void die(const char *what)
{
    printf("lmbench-rows: error %s: %s\n", what, strerror(errno));
    fflush(stdout);
    if ( scratch[0] )
        unlink(scratch);
    exit(1);
}

static void row(const char *name, long n, double t0, double t1)
{
    printf("lmbench-rows: row %s n=%ld ns=%.1f\n", name, n, (t1 - t0) / n);
    fflush(stdout);
}

static long count(long base, long divisor)
{
    long n = base / divisor;

    return n < 1 ? 1 : n;
}

static void null_syscall(long n)
{
    double t0;

    syscall(SYS_getppid);
    t0 = now_ns();
    for ( long i = 0; i < n; i++ )
        syscall(SYS_getppid);
    row("null_syscall", n, t0, now_ns());
}

static void reap(pid_t pid)
{
    int status;

    if ( pid < 0 )
        die("fork");
    if ( waitpid(pid, &status, 0) != pid )
        die("waitpid");
    if ( !WIFEXITED(status) || WEXITSTATUS(status) != 0 )
    {
        errno = ECHILD;
        die("child");
    }
}

static void fork_exit(long n)
{
    double t0 = now_ns();

    for ( long i = 0; i < n; i++ )
    {
        pid_t pid = fork();

        if ( pid == 0 )
            _exit(0);
        reap(pid);
    }
    row("fork_exit", n, t0, now_ns());
}

static void fork_exec(long n, const char *self)
{
    double t0 = now_ns();

    for ( long i = 0; i < n; i++ )
    {
        pid_t pid = fork();

        if ( pid == 0 )
        {
            char *argv[] = { "lmbench-rows", "--exit", NULL };
            char *envp[] = { NULL };

            execve(self, argv, envp);
            _exit(127);
        }
        reap(pid);
    }
    row("fork_exec", n, t0, now_ns());
}

static void ctxsw_pipe(long n)
{
    int there[2], back[2];
    char token = 'x';
    pid_t pid;
    double t0;

    if ( pipe(there) || pipe(back) )
        die("pipe");
    pid = fork();
    if ( pid == 0 )
    {
        close(there[1]);
        close(back[0]);
        for ( ;; )
        {
            if ( read(there[0], &token, 1) != 1 )
                _exit(0);   /* the parent closed its end: done */
            if ( write(back[1], &token, 1) != 1 )
                _exit(1);
        }
    }
    if ( pid < 0 )
        die("fork");
    close(there[0]);
    close(back[1]);
    t0 = now_ns();
    for ( long i = 0; i < n; i++ )
        if ( write(there[1], &token, 1) != 1 || read(back[0], &token, 1) != 1 )
            die("pipe round trip");
    row("ctxsw_pipe", 2 * n, t0, now_ns());
    close(there[1]);
    close(back[0]);
    reap(pid);
}

/* A file of `bytes` in the page cache, its pages written once. Returns its descriptor. */
static int cached_file(long bytes)
{
    static char page[PAGE];
    int fd;

    memset(page, 0x5a, sizeof(page));
    fd = open(scratch, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if ( fd < 0 )
        die("open scratch file");
    for ( long off = 0; off < bytes; off += PAGE )
        if ( write(fd, page, PAGE) != PAGE )
            die("write scratch file");
    return fd;
}

static void page_fault(long pages)
{
    long passes = 4, faults = 0;
    volatile char sum = 0;
    double total = 0;
    int fd = cached_file(pages * PAGE);

    for ( long p = 0; p < passes; p++ )
    {
        char *m = mmap(NULL, pages * PAGE, PROT_READ, MAP_SHARED, fd, 0);
        double t0;

        if ( m == MAP_FAILED )
            die("mmap");
        t0 = now_ns();
        for ( long i = 0; i < pages; i++ )
            sum += m[i * PAGE];
        total += now_ns() - t0;
        faults += pages;
        munmap(m, pages * PAGE);
    }
    close(fd);
    row("page_fault", faults, 0, total);
}

static void mmap_file(long n)
{
    volatile char sum = 0;
    int fd = cached_file(MMAP_BYTES);
    double t0 = now_ns();

    for ( long i = 0; i < n; i++ )
    {
        char *m = mmap(NULL, MMAP_BYTES, PROT_READ, MAP_SHARED, fd, 0);

        if ( m == MAP_FAILED )
            die("mmap");
        sum += m[0];
        munmap(m, MMAP_BYTES);
    }
    row("mmap_file", n, t0, now_ns());
    close(fd);
}

int main(int argc, char **argv)
{
    long divisor = 1;
    char self[512];
    const char *tmp = getenv("TMPDIR");
    ssize_t len;

    if ( argc > 1 && strcmp(argv[1], "--exit") == 0 )
        return 0;
    if ( argc > 1 )
    {
        char *end;

        divisor = strtol(argv[1], &end, 10);
        if ( *end || divisor < 1 )
        {
            fprintf(stderr, "usage: lmbench-rows [DIVISOR >= 1] | --exit\n");
            return 2;
        }
    }
    len = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if ( len < 0 )
        die("readlink /proc/self/exe");
    self[len] = 0;
    snprintf(scratch, sizeof(scratch), "%s/lmbench-rows.%d", tmp && *tmp ? tmp : "/tmp", (int)getpid());

    printf("lmbench-rows: begin divisor=%ld\n", divisor);
    fflush(stdout);
    null_syscall(count(1000000, divisor));
    fork_exit(count(1000, divisor));
    fork_exec(count(500, divisor), self);
    ctxsw_pipe(count(10000, divisor));
    page_fault(count(4096, divisor));
    mmap_file(count(2000, divisor));
    unlink(scratch);
    printf("lmbench-rows: end\n");
    return 0;
}
