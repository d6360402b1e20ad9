/*
 * xsave: XSAVE and AVX as Xen's default PV policy offers them, used the way Linux's PV start of day uses them.
 *
 * Through the forced-emulation CPUID: XSAVE and AVX offered (else SKIP: the machine has no AVX), OSXSAVE shown to the
 * kernel although its CR4.OSXSAVE is still clear (Xen's PV quirk, which Linux's xen_check_xsave needs), leaf 0xd
 * offering x87|SSE|YMM with a 576-byte area for the x87|SSE the vCPU starts with. Then: XSETBV before CR4.OSXSAVE
 * (#UD), MOV to CR4 with OSXSAVE (emulated; CR4 reads it back), XSETBV of invalid values and of XCR1 (#GP, caught),
 * XSETBV x87|SSE|YMM, XGETBV (native) reading it back, leaf 0xd:0 EBX grown to the YMM size, and vaddps on ymm
 * registers loaded before a hypercall, after it.
 *
 * One "[PASS]/[FAIL] ..." line per check, then "Test result: ...".
 */
#include "guest.h"
#include "hypercall.h"

#define X86_CR4_OSXSAVE (1ul << 18)
#define XCR0_X87        (1ul << 0)
#define XCR0_SSE        (1ul << 1)
#define XCR0_YMM        (1ul << 2)
#define XCR0_PKRU       (1ul << 9)

struct trap_info { uint8_t vector; uint8_t flags; uint16_t cs; unsigned long address; };
struct cpuid_regs { uint32_t a, b, c, d; };

extern void gp_entry(void);
extern void ud_entry(void);
unsigned long gp_count, ud_count;

static struct cpuid_regs pv_cpuid(uint32_t leaf, uint32_t subleaf)
{
    struct cpuid_regs r;

    asm volatile ("ud2a; .ascii \"xen\"; cpuid"
                  : "=a" (r.a), "=b" (r.b), "=c" (r.c), "=d" (r.d)
                  : "0" (leaf), "2" (subleaf));
    return r;
}

static void xsetbv(uint32_t xcr, uint64_t value)
{
    asm volatile ("xsetbv" :: "c" (xcr), "a" ((uint32_t)value), "d" ((uint32_t)(value >> 32)) : "memory");
}

static uint64_t xgetbv(uint32_t xcr)
{
    uint32_t lo, hi;

    asm volatile ("xgetbv" : "=a" (lo), "=d" (hi) : "c" (xcr));
    return ((uint64_t)hi << 32) | lo;
}

static unsigned long read_cr4(void)
{
    unsigned long v;

    asm volatile ("mov %%cr4, %0" : "=r" (v));
    return v;
}

static void write_cr4(unsigned long v)
{
    asm volatile ("mov %0, %%cr4" :: "r" (v) : "memory");
}

/* Expect one #GP (caught by gp_entry) from XSETBV xcr=value. */
static void xsetbv_refused(uint32_t xcr, uint64_t value, const char *why)
{
    unsigned long before = gp_count;

    xsetbv(xcr, value);
    test_check(gp_count == before + 1 && xgetbv(0) == (XCR0_X87 | XCR0_SSE),
               "XSETBV xcr%u=%#lx refused with #GP (%s)", xcr, (unsigned long)value, why);
}

/* The floats 0.0 to 8.0 as bit patterns (the guests build without SSE in C). */
static const uint32_t float_of[9] = {
    0x00000000, 0x3f800000, 0x40000000, 0x40400000, 0x40800000, 0x40a00000, 0x40c00000, 0x40e00000, 0x41000000,
};
static uint32_t ones[8] __attribute__((aligned(32)));
static uint32_t lanes[8] __attribute__((aligned(32)));
static uint32_t sums[8] __attribute__((aligned(32)));

static void avx_add(void)
{
    int wrong = 0;

    for ( int i = 0; i < 8; i++ )
    {
        ones[i] = float_of[1];
        lanes[i] = float_of[i];
        sums[i] = 0;
    }

    asm volatile ("vmovdqu %0, %%ymm0; vmovdqu %1, %%ymm1" :: "m" (ones), "m" (lanes));
    hc_xen_version(0, NULL);        /* an exit to the host between load and use */
    asm volatile ("vaddps %%ymm1, %%ymm0, %%ymm2; vmovdqu %%ymm2, %0; vzeroupper" : "=m" (sums));

    for ( int i = 0; i < 8; i++ )
        wrong += sums[i] != float_of[i + 1];
    test_check(wrong == 0, "vaddps ymm across a hypercall: lane i is 1.0 + i in all 8 lanes (%d wrong; lane 7 %#x)",
               wrong, sums[7]);
}

void test_main(void)
{
    static struct trap_info traps[] = {
        { 6, 0, 0xe033, (unsigned long)ud_entry },
        { 13, 0, 0xe033, (unsigned long)gp_entry },
        { 0, 0, 0, 0 },
    };
    struct cpuid_regs l1 = pv_cpuid(1, 0), d0, d1, d2;

    printk("xsave: XSAVE, XSETBV and AVX for a PV guest\n");
    if ( !(l1.c & (1u << 26)) || !(l1.c & (1u << 28)) )
    {
        test_skip("no XSAVE and AVX offered (leaf 1 ECX %#x): the machine lacks them", l1.c);
        return;
    }

    if ( hypercall1(HC_set_trap_table, traps) != 0 )
        panic("set_trap_table failed");

    test_check(!(read_cr4() & X86_CR4_OSXSAVE), "CR4.OSXSAVE starts clear (CR4 %#lx)", read_cr4());
    test_check(l1.c & (1u << 27), "forced CPUID leaf 1 shows OSXSAVE to the kernel before it sets CR4.OSXSAVE (ECX %#x)", l1.c);
    printk("  leaf 1 ECX %#x: FMA %u F16C %u; leaf 7 EBX %#x: AVX2 %u BMI1 %u BMI2 %u\n", l1.c,
           (l1.c >> 12) & 1, (l1.c >> 29) & 1, pv_cpuid(7, 0).b, (pv_cpuid(7, 0).b >> 5) & 1,
           (pv_cpuid(7, 0).b >> 3) & 1, (pv_cpuid(7, 0).b >> 8) & 1);

    d0 = pv_cpuid(0xd, 0);
    d1 = pv_cpuid(0xd, 1);
    d2 = pv_cpuid(0xd, 2);
    test_check((d0.a & 7) == 7 && !(d0.a & XCR0_PKRU) && d0.d == 0 && d0.b == 576 && d0.c >= 832,
               "leaf 0xd:0 offers x87|SSE|YMM (%#x:%#x), area %u bytes now, %u at most", d0.d, d0.a, d0.b, d0.c);
    test_check(d2.a == 256 && d2.b == 576, "leaf 0xd:2: YMM is %u bytes at offset %u", d2.a, d2.b);
    test_check(!(d1.a & (1u << 3)), "leaf 0xd:1 EAX %#x: no XSAVES", d1.a);
    test_check(xgetbv(0) == (XCR0_X87 | XCR0_SSE), "XGETBV: the vCPU starts with XCR0 x87|SSE (%#lx)", (unsigned long)xgetbv(0));

    xsetbv(0, XCR0_X87 | XCR0_SSE | XCR0_YMM);
    test_check(ud_count == 1 && gp_count == 0, "XSETBV with CR4.OSXSAVE clear raises #UD");

    write_cr4(read_cr4() | X86_CR4_OSXSAVE);
    test_check(read_cr4() & X86_CR4_OSXSAVE, "MOV to CR4 sets OSXSAVE (CR4 %#lx)", read_cr4());
    test_check(pv_cpuid(1, 0).c & (1u << 27), "leaf 1 shows OSXSAVE");

    xsetbv_refused(0, XCR0_SSE, "no x87");
    xsetbv_refused(0, XCR0_X87 | XCR0_YMM, "YMM without SSE");
    xsetbv_refused(0, XCR0_X87 | XCR0_SSE | XCR0_PKRU, "PKRU is not offered to PV guests");
    xsetbv_refused(1, XCR0_X87 | XCR0_SSE, "XCR1 is not writable");

    xsetbv(0, XCR0_X87 | XCR0_SSE | XCR0_YMM);
    test_check(gp_count == 4 && ud_count == 1 && xgetbv(0) == (XCR0_X87 | XCR0_SSE | XCR0_YMM),
               "XSETBV x87|SSE|YMM: XGETBV reads %#lx", (unsigned long)xgetbv(0));
    d0 = pv_cpuid(0xd, 0);
    test_check(d0.b == 832, "leaf 0xd:0 EBX follows XCR0: %u bytes", d0.b);

    avx_add();
}
