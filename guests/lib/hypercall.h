/*
 * hypercall.h - calling the hypervisor.
 *
 * 64-bit PV convention (checklist 2.1/2.2): argument registers rdi, rsi, rdx,
 * r10, r8; result in rax (negative errno on error). Normal hypercalls are a
 * `call` into the hypercall page the hypervisor filled in, stub n at
 * hypercall_page + 32*n. The stub saves rcx/r11 around its `syscall`, but we
 * still declare them clobbered, and every argument register is treated as
 * clobbered too: a debug Xen scribbles over the ones a hypercall used.
 *
 * raw_hypercallN() issue `syscall` inline with eax = nr instead. That is what
 * Linux >= 6.1.121 does; we use it where the page cannot be trusted (the
 * early "page not populated" panic) or a test needs a number without a stub.
 */
#ifndef GUEST_HYPERCALL_H
#define GUEST_HYPERCALL_H

#include "xen.h"

extern uint8_t hypercall_page[4096];

/*
 * Arguments are evaluated into ordinary temporaries first and only then
 * bound to the register variables: an argument expression containing a call
 * (strlen(msg), say) would otherwise clobber a register already loaded.
 */
#define _HC_BIND(a1, a2, a3, a4, a5)                                   \
    unsigned long _a1 = (unsigned long)(a1), _a2 = (unsigned long)(a2), \
                  _a3 = (unsigned long)(a3), _a4 = (unsigned long)(a4), \
                  _a5 = (unsigned long)(a5);                           \
    register unsigned long _rdi asm("rdi") = _a1;                      \
    register unsigned long _rsi asm("rsi") = _a2;                      \
    register unsigned long _rdx asm("rdx") = _a3;                      \
    register unsigned long _r10 asm("r10") = _a4;                      \
    register unsigned long _r8  asm("r8")  = _a5;                      \
    long _ret

#define _HC_OPERANDS                                                   \
      "=a" (_ret), "+r" (_rdi), "+r" (_rsi), "+r" (_rdx),              \
      "+r" (_r10), "+r" (_r8)

/* Call through the hypercall page. nr must be a compile-time constant. */
#define hypercall5(nr, a1, a2, a3, a4, a5) ({                          \
    _HC_BIND(a1, a2, a3, a4, a5);                                      \
    asm volatile ("call hypercall_page + %c[off]"                      \
                  : _HC_OPERANDS                                       \
                  : [off] "i" ((nr) * 32)                              \
                  : "rcx", "r11", "memory");                           \
    _ret;                                                              \
})

#define hypercall0(nr)                     hypercall5(nr, 0, 0, 0, 0, 0)
#define hypercall1(nr, a1)                 hypercall5(nr, a1, 0, 0, 0, 0)
#define hypercall2(nr, a1, a2)             hypercall5(nr, a1, a2, 0, 0, 0)
#define hypercall3(nr, a1, a2, a3)         hypercall5(nr, a1, a2, a3, 0, 0)
#define hypercall4(nr, a1, a2, a3, a4)     hypercall5(nr, a1, a2, a3, a4, 0)

/* Inline `syscall` with eax = nr; nr may be a run-time value. */
#define raw_hypercall5(nr, a1, a2, a3, a4, a5) ({                      \
    unsigned long _nr = (unsigned long)(nr);                           \
    _HC_BIND(a1, a2, a3, a4, a5);                                      \
    asm volatile ("syscall"                                            \
                  : _HC_OPERANDS                                       \
                  : "0" (_nr)                                          \
                  : "rcx", "r11", "memory");                           \
    _ret;                                                              \
})

#define raw_hypercall2(nr, a1, a2)         raw_hypercall5(nr, a1, a2, 0, 0, 0)
#define raw_hypercall3(nr, a1, a2, a3)     raw_hypercall5(nr, a1, a2, a3, 0, 0)

/* Typed helpers for the hypercalls the guests use. */

static inline long hc_xen_version(int cmd, void *arg)
{
    return hypercall2(HC_xen_version, cmd, arg);
}

static inline long hc_console_io(int cmd, unsigned long count, const void *buf)
{
    return hypercall3(HC_console_io, cmd, count, buf);
}

static inline long hc_sched_op(int cmd, void *arg)
{
    return hypercall2(HC_sched_op, cmd, arg);
}

static inline long hc_memory_op(unsigned int cmd, void *arg)
{
    return hypercall2(HC_memory_op, cmd, arg);
}

static inline long hc_vm_assist(unsigned int cmd, unsigned int type)
{
    return hypercall2(HC_vm_assist, cmd, type);
}

#endif /* GUEST_HYPERCALL_H */
