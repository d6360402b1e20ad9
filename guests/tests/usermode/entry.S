/*
 * Kernel entry points for the usermode guest, and the user program it runs.
 * Xen bounce frames start with RCX and R11 above the hardware-like frame; every handler pops them first.
 * Returns to the interrupted context go through the iret hypercall (stub 23 of the hypercall page), after
 * pushing the `flags` word of struct iret_context.
 */
    .text
    .code64

.macro SAVE
    push %rax
    push %rdi
    push %rsi
    push %rdx
    push %r8
    push %r9
    push %r10
    push %rcx
    push %r11
.endm
.macro RESTORE
    pop %r11
    pop %rcx
    pop %r10
    pop %r9
    pop %r8
    pop %rdx
    pop %rsi
    pop %rdi
    pop %rax
.endm

/* syscall callback: [rcx r11 rip cs rflags rsp ss], events masked. rax = nr, rdi = arg; result in rax. */
    .globl syscall_entry
syscall_entry:
    pop %rcx
    pop %r11
    push %rdi
    push %rsi
    push %rdx
    push %r8
    push %r9
    push %r10
    mov %rdi, %rsi
    mov %rax, %rdi
    call do_syscall
    pop %r10
    pop %r9
    pop %r8
    pop %rdx
    pop %rsi
    pop %rdi
    pushq $0x100                   /* VGCF_in_syscall: RCX/R11 are the syscall's to clobber */
    jmp hypercall_page + 23 * 32

/* #PF: [rcx r11 error rip cs rflags rsp ss] */
    .globl page_fault_entry
page_fault_entry:
    pop %rcx
    pop %r11
    SAVE
    mov 72(%rsp), %rdi             /* error code */
    lea 80(%rsp), %rsi             /* the hardware-like frame: rip cs rflags rsp ss */
    call do_page_fault
    RESTORE
    add $8, %rsp                   /* error code */
    pushq $0
    jmp hypercall_page + 23 * 32

/* Any other exception: report it and fail. [rcx r11 (error) rip ...] */
    .globl other_trap_entry
other_trap_entry:
    pop %rcx
    pop %r11
    mov %rsp, %rdi
    call do_other_trap             /* does not return */

/* enter_user(rip, rsp): iret to ring 3 with events enabled. */
    .globl enter_user
enter_user:
    pushq $0xe02b                  /* ss */
    push %rsi                      /* rsp */
    pushq $0x202                   /* rflags: IF */
    pushq $0xe033                  /* cs, RPL 3: user mode */
    push %rdi                      /* rip */
    pushq $0                       /* flags */
    jmp hypercall_page + 23 * 32

/* The user program, copied to USER_CODE. Position independent except for the absolute data addresses. */
    .section .rodata
    .globl user_program, user_program_end
user_program:
    mov $1, %eax                   /* sys_echo(0x1234) returns 0x1235 */
    mov $0x1234, %edi
    syscall
    cmp $0x1235, %rax
    jne 1f
    movq $0x55, 0x40002000         /* not mapped yet: the guest kernel's #PF handler maps it */
    mov 0x40002000, %rbx
    cmp $0x55, %rbx
    jne 1f
    mov $4, %eax                   /* sys_unmap: the kernel unmaps the page again (mmu_update on the user L1) */
    syscall
    movq $0x66, 0x40002000         /* so this must fault again */
    mov 0x40002000, %rbx
    cmp $0x66, %rbx
    jne 1f
    mov $3, %eax                   /* sys_count: how many syscalls so far, twice, to exercise the fast path */
    syscall
    mov %rax, %rbx
    mov $3, %eax
    syscall
    sub %rbx, %rax
    cmp $1, %rax
    jne 1f
    mov $2, %eax                   /* sys_exit(0) */
    xor %edi, %edi
    syscall
1:  mov $2, %eax                   /* sys_exit(1) */
    mov $1, %edi
    syscall
    ud2
user_program_end:
