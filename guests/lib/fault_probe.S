/*
 * fault_probe - probe_read() reads one word and reports whether that faulted. probe_page_fault_entry is a #PF
 * trap handler (register it with set_trap_table) that resumes a fault at probe_insn at probe_fixup and counts it
 * in page_faults; any other fault goes to the guest's unexpected_fault(rip), which must not return.
 * Xen bounce frames start with RCX and R11 above the hardware-like frame [error rip cs rflags rsp ss]; the iret
 * hypercall (stub 23) takes the flags word pushed last, and restores RAX, R11 and RCX it pushes itself.
 */
    .text
    .weak unexpected_fault
    .code64

/* int probe_read(const volatile unsigned long *p, unsigned long *value): 0 and *value set, or 1 if the read faulted. */
    .globl probe_read
probe_read:
    xor %eax, %eax
    .globl probe_insn
probe_insn:
    mov (%rdi), %rdx
    mov %rdx, (%rsi)
    ret
probe_fixup:
    mov $1, %eax
    ret

/* #PF: [rcx r11 error rip cs rflags rsp ss] */
    .globl probe_page_fault_entry
probe_page_fault_entry:
    pop %rcx
    pop %r11
    add $8, %rsp                   /* error code */
    push %rax
    lea probe_insn(%rip), %rax
    cmp %rax, 8(%rsp)              /* the faulting rip */
    jne 1f
    lea probe_fixup(%rip), %rax
    mov %rax, 8(%rsp)
    incq page_faults(%rip)
    pop %rax
    pushq $0                       /* iret flags */
    jmp hypercall_page + 23 * 32
1:  mov 8(%rsp), %rdi
    call unexpected_fault          /* does not return */

    .bss
    .balign 8
    .globl page_faults
page_faults:
    .quad 0
