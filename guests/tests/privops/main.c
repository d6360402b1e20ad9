/*
 * privops - privileged-instruction emulation and the related hypercalls.
 *
 * The guest kernel runs in ring 3: each instruction below faults (#UD or #GP)
 * and must be emulated by the hypervisor as Xen does. No trap table is
 * installed, so an instruction that is not emulated crashes the domain; every
 * check here is of an emulation that should succeed.
 *
 * One "[PASS]/[FAIL] ..." line per check, then "Test result: ...".
 */
#include "guest.h"
#include "hypercall.h"

#define HC_fpu_taskswitch    5
#define HC_set_debugreg      8
#define HC_get_debugreg      9
#define HC_set_segment_base 25
#define HC_physdev_op       33

#define SEGBASE_FS          0
#define SEGBASE_GS_USER     1
#define SEGBASE_GS_KERNEL   2
#define SEGBASE_GS_USER_SEL 3
#define PHYSDEVOP_set_iopl  6

#define MSR_APIC_BASE       0x0000001bu
#define MSR_PAT             0x00000277u
#define MSR_EFER            0xc0000080u
#define MSR_FS_BASE         0xc0000100u
#define MSR_GS_BASE         0xc0000101u
#define MSR_SHADOW_GS_BASE  0xc0000102u
#define XEN_MSR_PAT         0x0000050100070406ul

#define X86_CR0_PE          (1ul << 0)
#define X86_CR0_TS          (1ul << 3)
#define X86_CR0_PG          (1ul << 31)
#define X86_CR4_PAE         (1ul << 5)

struct cpuid_regs { uint32_t a, b, c, d; };

/* Xen's forced-emulation prefix: ud2; .ascii "xen"; then the instruction. */
static struct cpuid_regs pv_cpuid(uint32_t leaf, uint32_t subleaf)
{
    struct cpuid_regs r;

    asm volatile ("ud2a; .ascii \"xen\"; cpuid"
                  : "=a" (r.a), "=b" (r.b), "=c" (r.c), "=d" (r.d)
                  : "0" (leaf), "2" (subleaf));
    return r;
}

static uint64_t rdmsr(uint32_t msr)
{
    uint32_t lo, hi;

    asm volatile ("rdmsr" : "=a" (lo), "=d" (hi) : "c" (msr));
    return ((uint64_t)hi << 32) | lo;
}

static void wrmsr(uint32_t msr, uint64_t val)
{
    asm volatile ("wrmsr" :: "c" (msr), "a" ((uint32_t)val), "d" ((uint32_t)(val >> 32)) : "memory");
}

#define read_cr(n) ({ unsigned long _v; asm volatile ("mov %%cr" #n ", %0" : "=r" (_v)); _v; })

static void check_cpuid(void)
{
    struct cpuid_regs r = pv_cpuid(0x40000000, 0);
    char sig[13];

    memcpy(&sig[0], &r.b, 4);
    memcpy(&sig[4], &r.c, 4);
    memcpy(&sig[8], &r.d, 4);
    sig[12] = '\0';
    test_check(!strcmp(sig, "XenVMMXenVMM") && r.a == 0x40000005,
               "forced-emulation cpuid 0x40000000: \"%s\", max leaf %#x", sig, r.a);

    r = pv_cpuid(0x40000001, 0);
    test_check((r.a >> 16) >= 3, "cpuid 0x40000001: Xen %u.%u", r.a >> 16, r.a & 0xffff);

    r = pv_cpuid(0x40000002, 0);
    test_check(r.a == 1 && r.b == 0x40000000,
               "cpuid 0x40000002: %u hypercall page(s), MSR base %#x", r.a, r.b);

    r = pv_cpuid(1, 0);
    test_check(r.c & (1u << 31), "cpuid 1: hypervisor bit (ecx %#x edx %#x)", r.c, r.d);
}

static void check_control_registers(void)
{
    unsigned long cr0 = read_cr(0), cr2 = read_cr(2), cr3 = read_cr(3), cr4 = read_cr(4);

    test_check((cr0 & (X86_CR0_PE | X86_CR0_PG)) == (X86_CR0_PE | X86_CR0_PG),
               "mov %%cr0: %#lx (PE and PG set)", cr0);
    printk("  cr2 %#lx\n", cr2);
    test_check(cr3 != 0 && (cr3 & 0xfff) == 0, "mov %%cr3: %#lx (page aligned)", cr3);
    test_check(cr4 & X86_CR4_PAE, "mov %%cr4: %#lx (PAE set)", cr4);

    asm volatile ("mov %0, %%cr4" :: "r" (cr4));
    test_check(read_cr(4) == cr4, "mov to %%cr4 of its own value keeps it");

    long rc = hypercall1(HC_fpu_taskswitch, 1);
    unsigned long ts_set = read_cr(0) & X86_CR0_TS;
    asm volatile ("clts");
    test_check(rc == 0 && ts_set && !(read_cr(0) & X86_CR0_TS),
               "fpu_taskswitch(1) sets CR0.TS, clts clears it (rc %ld)", rc);
}

static volatile uint64_t fs_probe[2] = { 0x1122334455667788ul, 0x99aabbccddeeff00ul };

static uint64_t read_fs0(void)
{
    uint64_t v;

    asm volatile ("mov %%fs:0, %0" : "=r" (v));
    return v;
}

static void check_msrs(void)
{
    uint64_t pat = rdmsr(MSR_PAT);
    test_check(pat == XEN_MSR_PAT, "rdmsr PAT: %#lx", pat);

    uint64_t apic = rdmsr(MSR_APIC_BASE);
    test_check((apic & ~0xfffull) == 0xfee00000ul && (apic & (1u << 11)),
               "rdmsr APIC_BASE: %#lx", apic);

    uint64_t efer = rdmsr(MSR_EFER);
    wrmsr(MSR_EFER, efer); /* Linux writes it back: must be accepted */
    test_check(efer & (1u << 10), "rdmsr EFER: %#lx (LMA), written back", efer);

    long rc = hypercall2(HC_set_segment_base, SEGBASE_FS, (unsigned long)&fs_probe[0]);
    uint64_t fs = rdmsr(MSR_FS_BASE);
    test_check(rc == 0 && fs == (unsigned long)&fs_probe[0],
               "set_segment_base(FS) then rdmsr FS_BASE: %#lx (rc %ld)", fs, rc);
    test_check(read_fs0() == fs_probe[0], "%%fs:0 reads through the new base");

    wrmsr(MSR_FS_BASE, (unsigned long)&fs_probe[1]);
    fs = rdmsr(MSR_FS_BASE);
    test_check(fs == (unsigned long)&fs_probe[1], "wrmsr FS_BASE then rdmsr: %#lx", fs);
    test_check(read_fs0() == fs_probe[1], "%%fs:0 follows the written base");
    wrmsr(MSR_FS_BASE, 0);

    /* The GS bases (answered by the stub in the VM, as FS above): the kernel's is the active GS_BASE, the user's the
     * inactive one while in kernel mode. A non-canonical base is refused and changes nothing. */
    rc = hypercall2(HC_set_segment_base, SEGBASE_GS_KERNEL, 0x1234000ul);
    uint64_t gs = rdmsr(MSR_GS_BASE);
    test_check(rc == 0 && gs == 0x1234000ul, "set_segment_base(GS_KERNEL) then rdmsr GS_BASE: %#lx (rc %ld)", gs, rc);
    rc = hypercall2(HC_set_segment_base, SEGBASE_GS_USER, 0x5678000ul);
    uint64_t shadow = rdmsr(MSR_SHADOW_GS_BASE);
    test_check(rc == 0 && shadow == 0x5678000ul && rdmsr(MSR_GS_BASE) == 0x1234000ul,
               "set_segment_base(GS_USER) then rdmsr SHADOW_GS_BASE: %#lx (rc %ld), GS_BASE kept", shadow, rc);
    rc = hypercall2(HC_set_segment_base, SEGBASE_FS, 0x0000800000000000ul);
    test_check(rc == -22 && rdmsr(MSR_FS_BASE) == 0, "set_segment_base(FS, non-canonical): rc %ld (-EINVAL), FS_BASE kept", rc);
    rc = hypercall2(HC_set_segment_base, 7, 0);
    test_check(rc == -22, "set_segment_base(7, 0): rc %ld (-EINVAL)", rc);
    /* GS_USER_SEL loads a selector's base as the user GS base: NUL (what Linux loads at each switch to a user task)
     * gives 0, as does Xen's flat ring-3 data selector. */
    rc = hypercall2(HC_set_segment_base, SEGBASE_GS_USER_SEL, 0);
    shadow = rdmsr(MSR_SHADOW_GS_BASE);
    test_check(rc == 0 && shadow == 0, "set_segment_base(GS_USER_SEL, NUL): user GS base %#lx (rc %ld)", shadow, rc);
    hypercall2(HC_set_segment_base, SEGBASE_GS_USER, 0x5678000ul);
    rc = hypercall2(HC_set_segment_base, SEGBASE_GS_USER_SEL, 0xe02b);
    shadow = rdmsr(MSR_SHADOW_GS_BASE);
    test_check(rc == 0 && shadow == 0, "set_segment_base(GS_USER_SEL, 0xe02b): user GS base %#lx (rc %ld)", shadow, rc);
    hypercall2(HC_set_segment_base, SEGBASE_GS_KERNEL, 0);
}

static void check_port_io(void)
{
    uint32_t iopl = 1;
    long rc = hypercall2(HC_physdev_op, PHYSDEVOP_set_iopl, &iopl);
    test_check(rc == 0, "physdev_op set_iopl(1): %ld", rc);

    uint8_t v = 0;
    asm volatile ("outb %b0, $0x80" :: "a" (v));
    test_success("outb to port 0x80 with IOPL 1 emulated");

    asm volatile ("inb $0x61, %b0" : "=a" (v));
    if ( start_info->flags & SIF_INITDOMAIN )
        printk("  inb from port 0x61: %#x (dom0 reaches the real port)\n", v);
    else
        test_check(v == 0xff, "inb from port 0x61 (no devices in a domU): %#x", v);

    if ( start_info->flags & SIF_INITDOMAIN )
        return;

    /* Each width and both port forms: all ones of the width, the rest of RAX kept (a dword zero-extends). */
    unsigned long r = 0x1122334455667788ul;
    asm volatile ("inw $0x42, %%ax" : "+a" (r));
    test_check(r == 0x112233445566fffful, "inw from port 0x42: %#lx", r);
    r = 0x1122334455667788ul;
    asm volatile ("inl $0x42, %%eax" : "+a" (r));
    test_check(r == 0xfffffffful, "inl from port 0x42: %#lx", r);
    r = 0x1122334455667788ul;
    asm volatile ("inb %%dx, %%al" : "+a" (r) : "d" (0x3f8));
    test_check(r == 0x11223344556677fful, "inb from port dx=0x3f8: %#lx", r);
    r = 0x1122334455667788ul;
    asm volatile ("inw %%dx, %%ax" : "+a" (r) : "d" (0x3f8));
    test_check(r == 0x112233445566fffful, "inw from port dx=0x3f8: %#lx", r);
    r = 0x1122334455667788ul;
    asm volatile ("inl %%dx, %%eax" : "+a" (r) : "d" (0x3f8));
    test_check(r == 0xfffffffful, "inl from port dx=0x3f8: %#lx", r);
    asm volatile ("outw %%ax, $0x80; outl %%eax, $0x80; outb %%al, %%dx; outw %%ax, %%dx; outl %%eax, %%dx"
                  :: "a" (0ul), "d" (0x80));
    test_success("outw, outl to port 0x80 and outb, outw, outl to port dx=0x80 dropped");

    /* The RTC index latches (port 0x70): the host's, not all ones. */
    asm volatile ("outb %b0, $0x70" :: "a" (0x8b));
    asm volatile ("inb $0x70, %b0" : "=a" (v));
    test_check(v == 0x0b, "inb from port 0x70 after outb 0x8b: %#x (the index, NMI bit clear)", v);
}

static void check_debug_registers(void)
{
    unsigned long addr = (unsigned long)&fs_probe[0];
    long rc = hypercall2(HC_set_debugreg, 0, addr);
    long got = hypercall1(HC_get_debugreg, 0);
    test_check(rc == 0 && (unsigned long)got == addr, "set_debugreg(0) then get_debugreg(0): %#lx", got);

    rc = hypercall2(HC_set_debugreg, 7, 0x2000ul); /* DR7.GD is Xen's */
    test_check(rc == -XEN_EPERM, "set_debugreg(7, GD) refused: %ld", rc);
    rc = hypercall2(HC_set_debugreg, 0, HYPERVISOR_VIRT_START);
    test_check(rc == -XEN_EPERM, "set_debugreg(0, hypervisor address) refused: %ld", rc);

    unsigned long dr7;
    asm volatile ("mov %%dr7, %0" : "=r" (dr7));
    test_check(dr7 == 0x400, "mov %%dr7: %#lx", dr7);
    hypercall2(HC_set_debugreg, 0, 0);
}

void test_main(void)
{
    check_cpuid();
    check_control_registers();
    check_msrs();
    check_port_io();
    check_debug_registers();
}
