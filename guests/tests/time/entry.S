/*
 * Entry points for the time guest: the event callback (Xen bounce frame [rcx r11 rip cs rflags rsp ss], events
 * masked; returned through the iret hypercall, which restores the event mask from the saved RFLAGS.IF), and the
 * first instruction of the secondary vCPU (its stack set by VCPUOP_initialise).
 */
    .text
    .code64

    .globl event_entry
event_entry:
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
    call do_event
    pop %r11
    pop %rcx
    pop %r10
    pop %r9
    pop %r8
    pop %rdx
    pop %rsi
    pop %rdi
    pop %rax
    pushq $0
    jmp hypercall_page + 23 * 32

    .globl secondary_entry
secondary_entry:
    call secondary_main
1:  jmp 1b
