/*
 * #GP and #UD handlers for XSETBV probes. Xen's bounce frame: [rcx r11 (error) rip cs rflags rsp ss]. Each counts the
 * fault, steps RIP over the 3-byte xsetbv (0f 01 d1) and returns through the iret hypercall.
 */
    .text
    .globl gp_entry
gp_entry:
    pop %rcx
    pop %r11
    add $8, %rsp                /* the error code */
    incq gp_count(%rip)
    addq $3, (%rsp)
    pushq $0
    jmp hypercall_page + 23 * 32

    .globl ud_entry
ud_entry:
    pop %rcx
    pop %r11
    incq ud_count(%rip)
    addq $3, (%rsp)
    pushq $0
    jmp hypercall_page + 23 * 32
