/*
 * baselines.c - native (C) reference points for bench/, compiled by the bench
 * into a temporary directory at run time (never committed as a binary).
 *
 *   baselines getppid N   N getppid() system calls; prints ns per call
 *   baselines exit N      N KVM_RUN round trips of a ring-0 guest looping
 *                         `out 0x14, al; jmp back` (the setup of
 *                         ../shared/reference/kvm-probes/exit.c); prints ns
 *                         per round trip
 *   baselines nops N      the same loop with 10 `nop`s before the `out`: the
 *                         difference from `exit`, divided by 10, is what one
 *                         ring-0 instruction costs (kvm_pvm emulates them)
 *   baselines stack N     the same with 5 `push %rax` and 5 `pop %rax`: one
 *                         ring-0 instruction with a memory operand
 *   baselines sleep N     N clock_nanosleep() to 1 ms ahead (absolute, CLOCK_MONOTONIC); prints the
 *                         median lateness in ns: how late the host itself wakes a sleeping thread
 *   baselines tsc         the TSC rate against CLOCK_MONOTONIC over 100 ms;
 *                         prints TSC ticks per ns
 *
 * Output is one number on stdout; errors go to stderr with exit status 1.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>

static double now_ns(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e9 + t.tv_nsec;
}

static int fail(const char *what)
{
    fprintf(stderr, "baselines: %s: %s\n", what, strerror(errno));
    return 1;
}

static int bench_getppid(long n)
{
    double t0, t1;

    syscall(SYS_getppid);
    t0 = now_ns();
    for ( long i = 0; i < n; i++ )
        syscall(SYS_getppid);   /* not getppid(): glibc must not cache it */
    t1 = now_ns();
    printf("%.3f\n", (t1 - t0) / n);
    return 0;
}

/* n raw `syscall` instructions of getppid (inline asm, as the guest's user program issues them) */
static int bench_syscall(long n)
{
    double t0, t1;
    long r;

    t0 = now_ns();
    for ( long i = 0; i < n; i++ )
        asm volatile ("syscall" : "=a" (r) : "0" ((long)SYS_getppid) : "rcx", "r11", "memory");
    t1 = now_ns();
    (void)r;
    printf("%.3f\n", (t1 - t0) / n);
    return 0;
}

/* n minor page faults: mmap n fresh anonymous pages and write one word to each */
static int bench_fault(long n)
{
    double t0, t1;
    volatile char *p = mmap(NULL, (size_t)n * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

    if ( p == MAP_FAILED )
        return fail("mmap");
    t0 = now_ns();
    for ( long i = 0; i < n; i++ )
        p[i * 4096] = 1;
    t1 = now_ns();
    munmap((void *)p, (size_t)n * 4096);
    printf("%.3f\n", (t1 - t0) / n);
    return 0;
}

/* before: 10 bytes of one-byte instructions to run ahead of the out, or NULL */
static int bench_exit(long n, const uint8_t *before)
{
    enum { MEM = 0x400000 };
    static const uint8_t loop[] = { 0xe6, 0x14, 0xeb, 0x00 };   /* out 0x14,al; jmp <start> */
    struct { struct kvm_cpuid2 c; struct kvm_cpuid_entry2 e[256]; } cpuid;
    struct kvm_sregs s;
    struct kvm_regs r;
    struct kvm_run *run;
    uint8_t *m;
    uint64_t *pml4, *pdpt, *pd, *gdt;
    int kvm, vm, cpu, runsize;
    double t0, t1;

    if ( (kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC)) < 0 )
        return fail("open /dev/kvm");
    if ( (vm = ioctl(kvm, KVM_CREATE_VM, 0)) < 0 )
        return fail("KVM_CREATE_VM");
    m = mmap(NULL, MEM, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if ( m == MAP_FAILED )
        return fail("mmap");
    struct kvm_userspace_memory_region region = { 0, 0, 0, MEM, (uint64_t)(uintptr_t)m };
    if ( ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0 )
        return fail("KVM_SET_USER_MEMORY_REGION");

    /* Identity map of the first 4 MiB with 2 MiB pages. */
    pml4 = (uint64_t *)(m + 0x1000);
    pdpt = (uint64_t *)(m + 0x2000);
    pd = (uint64_t *)(m + 0x3000);
    pml4[0] = 0x2003;
    pdpt[0] = 0x3003;
    pd[0] = 0x83;
    pd[1] = 0x200083;
    gdt = (uint64_t *)(m + 0x6000);
    gdt[1] = 0x00209a0000000000ULL;   /* 64-bit code, DPL 0 */
    gdt[2] = 0x0000920000000000ULL;   /* data */
    int extra = before ? 10 : 0;
    if ( before )
        memcpy(m + 0x10000, before, extra);
    memcpy(m + 0x10000 + extra, loop, sizeof(loop));
    m[0x10000 + extra + 3] = (uint8_t)-(extra + 4);             /* jmp back to the start */

    if ( (cpu = ioctl(vm, KVM_CREATE_VCPU, 0)) < 0 )
        return fail("KVM_CREATE_VCPU");
    if ( (runsize = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0)) < 0 )
        return fail("KVM_GET_VCPU_MMAP_SIZE");
    run = mmap(NULL, runsize, PROT_READ | PROT_WRITE, MAP_SHARED, cpu, 0);
    if ( run == MAP_FAILED )
        return fail("mmap kvm_run");
    cpuid.c.nent = 256;
    if ( ioctl(kvm, KVM_GET_SUPPORTED_CPUID, &cpuid) < 0 || ioctl(cpu, KVM_SET_CPUID2, &cpuid) < 0 )
        return fail("cpuid");

    if ( ioctl(cpu, KVM_GET_SREGS, &s) < 0 )
        return fail("KVM_GET_SREGS");
    s.cr3 = 0x1000;
    s.cr4 = 0x20;
    s.cr0 = 0x80050033;
    s.efer = 0x500;
    struct kvm_segment cs = { .limit = 0xffffffff, .selector = 8, .type = 11, .present = 1, .s = 1, .l = 1, .g = 1 };
    struct kvm_segment ds = { .limit = 0xffffffff, .selector = 0x10, .type = 3, .present = 1, .db = 1, .s = 1, .g = 1 };
    s.cs = cs;
    s.ds = s.es = s.fs = s.gs = s.ss = ds;
    s.gdt.base = 0x6000;
    s.gdt.limit = 0x17;
    if ( ioctl(cpu, KVM_SET_SREGS, &s) < 0 )
        return fail("KVM_SET_SREGS");
    memset(&r, 0, sizeof(r));
    r.rip = 0x10000;
    r.rflags = 2;
    r.rsp = 0x300000;
    if ( ioctl(cpu, KVM_SET_REGS, &r) < 0 )
        return fail("KVM_SET_REGS");

    if ( ioctl(cpu, KVM_RUN, 0) < 0 )
        return fail("KVM_RUN");
    t0 = now_ns();
    for ( long i = 0; i < n; i++ )
        if ( ioctl(cpu, KVM_RUN, 0) < 0 || run->exit_reason != KVM_EXIT_IO || run->io.port != 0x14 )
        {
            fprintf(stderr, "baselines: round trip %ld: exit reason %u\n", i, run->exit_reason);
            return 1;
        }
    t1 = now_ns();
    printf("%.3f\n", (t1 - t0) / n);
    return 0;
}

static inline uint64_t rdtsc(void)
{
    uint32_t lo, hi;

    asm volatile ("lfence; rdtsc" : "=a" (lo), "=d" (hi) :: "memory");
    return ((uint64_t)hi << 32) | lo;
}

static int bench_tsc(void)
{
    double t0 = now_ns(), t1;
    uint64_t c0 = rdtsc(), c1;

    do
    {
        t1 = now_ns();
        c1 = rdtsc();
    } while ( t1 - t0 < 100e6 );
    printf("%.6f\n", (double)(c1 - c0) / (t1 - t0));
    return 0;
}

/* Median lateness (ns) of n clock_nanosleep(1 ms) calls against CLOCK_MONOTONIC: the host's own timer wake-up. */
static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int bench_sleep(long n)
{
    uint64_t *late = calloc((size_t)n, sizeof(uint64_t));
    if ( !late )
        return 1;
    for ( long i = 0; i < n; i++ )
    {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        uint64_t deadline = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec + 1000000;
        struct timespec d = { (time_t)(deadline / 1000000000ull), (long)(deadline % 1000000000ull) };
        while ( clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &d, NULL) != 0 )
            ;
        uint64_t t = (uint64_t)now_ns();
        late[i] = t > deadline ? t - deadline : 0;
    }
    qsort(late, (size_t)n, sizeof(uint64_t), cmp_u64);
    printf("%llu\n", (unsigned long long)late[n / 2]);
    free(late);
    return 0;
}

int main(int argc, char **argv)
{
    long n = argc > 2 ? strtol(argv[2], NULL, 10) : 0;

    if ( argc >= 2 && !strcmp(argv[1], "tsc") )
        return bench_tsc();
    if ( argc != 3 || n <= 0 )
    {
        fprintf(stderr, "usage: baselines getppid|syscall|fault|sleep|exit|nops|stack N | baselines tsc\n");
        return 2;
    }
    if ( !strcmp(argv[1], "getppid") )
        return bench_getppid(n);
    if ( !strcmp(argv[1], "syscall") )
        return bench_syscall(n);
    if ( !strcmp(argv[1], "fault") )
        return bench_fault(n);
    if ( !strcmp(argv[1], "sleep") )
        return bench_sleep(n);
    static const uint8_t nops[10] = { 0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90 };
    static const uint8_t stack[10] = { 0x50, 0x50, 0x50, 0x50, 0x50, 0x58, 0x58, 0x58, 0x58, 0x58 };

    if ( !strcmp(argv[1], "exit") )
        return bench_exit(n, NULL);
    if ( !strcmp(argv[1], "nops") )
        return bench_exit(n, nops);
    if ( !strcmp(argv[1], "stack") )
        return bench_exit(n, stack);
    fprintf(stderr, "baselines: unknown mode %s\n", argv[1]);
    return 2;
}
