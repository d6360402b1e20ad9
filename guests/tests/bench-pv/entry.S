/*
 * Kernel entry points of the bench-pv guest, and its user program (copied to USER_CODE).
 * Bounce frames: [rcx r11 (error) rip cs rflags rsp ss]; returns go through the iret hypercall (stub 23).
 */
    .text
    .code64

/* syscall callback. rax = 0 is the null system call: straight back through iret with VGCF_in_syscall. */
    .globl syscall_entry
syscall_entry:
    pop %rcx
    pop %r11
    test %rax, %rax
    jnz 1f
    pushq $0x100                   /* VGCF_in_syscall */
    jmp hypercall_page + 23 * 32
1:  push %rdi
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
    pushq $0x100
    jmp hypercall_page + 23 * 32

/* #PF: [rcx r11 error rip cs rflags rsp ss] */
    .globl page_fault_entry
page_fault_entry:
    pop %rcx
    pop %r11
    push %rax
    push %rdi
    push %rsi
    push %rdx
    push %r8
    push %r9
    push %r10
    push %rcx
    push %r11
    mov 72(%rsp), %rdi             /* error code */
    lea 80(%rsp), %rsi             /* rip cs rflags rsp ss */
    call do_page_fault
    pop %r11
    pop %rcx
    pop %r10
    pop %r9
    pop %r8
    pop %rdx
    pop %rsi
    pop %rdi
    pop %rax
    add $8, %rsp                   /* error code */
    pushq $0
    jmp hypercall_page + 23 * 32

    .globl other_trap_entry
other_trap_entry:
    pop %rcx
    pop %r11
    mov %rsp, %rdi
    call do_other_trap

/* enter_user(rip, rsp) */
    .globl enter_user
enter_user:
    pushq $0xe02b
    push %rsi
    pushq $0x202
    pushq $0xe033
    push %rdi
    pushq $0
    jmp hypercall_page + 23 * 32

/*
 * The user program. System calls: 0 null, 2 exit(rdi), 10 n_sys, 12 n_fault, 20/21 SYSCALL markers,
 * 30/32 FAULT markers.
 */
    .section .rodata
    .globl user_program, user_program_end
user_program:
    mov $10, %eax
    syscall
    mov %rax, %r12                 /* n_sys */
    mov $1000, %ebx                /* warm-up */
0:  xor %eax, %eax
    syscall
    dec %rbx
    jnz 0b
    mov $20, %eax                  /* SYSCALL-BEGIN */
    syscall
    mov %r12, %rbx
    test %rbx, %rbx
    jz 2f
1:  xor %eax, %eax
    syscall
    dec %rbx
    jnz 1b
2:  mov $21, %eax                  /* SYSCALL-END */
    syscall

    mov $12, %eax
    syscall
    mov %rax, %r12                 /* n_fault */
    movq $1, 0x40002000            /* warm-up: one fault */
    mov $30, %eax                  /* FAULT-BEGIN */
    syscall
    mov $0x40003000, %r13
    test %r12, %r12
    jz 5f
4:  movq $1, (%r13)                /* not mapped yet: the kernel's #PF handler maps it */
    add $0x1000, %r13
    dec %r12
    jnz 4b
5:  mov $32, %eax                  /* FAULT-END */
    syscall
    mov $2, %eax
    xor %edi, %edi
    syscall
    ud2
user_program_end:
