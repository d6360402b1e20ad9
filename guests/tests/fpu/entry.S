/* #NM: [rcx r11 rip cs rflags rsp ss]. Xen cleared the virtual CR0.TS on delivery: count it and retry. */
    .text
    .globl nm_entry
nm_entry:
    pop %rcx
    pop %r11
    incq nm_count(%rip)
    pushq $0
    jmp hypercall_page + 23 * 32
