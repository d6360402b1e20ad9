/*
 * event_entry - the event callback a guest registers (set_callbacks or CALLBACKOP_register, type event).
 * Xen enters it with events masked, on the bounce frame [rcx r11 rip cs rflags rsp ss]. It saves the
 * registers a C call may clobber, calls the guest's do_event(), and returns through the iret hypercall
 * (stub 23 of the hypercall page, after pushing iret_context.flags = 0), which unmasks events again when
 * the interrupted context had them enabled (IF in the saved rflags).
 */
    .text
    .code64
    .weak do_event

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
    pushq $0                       /* iret_context.flags */
    jmp hypercall_page + 23 * 32
