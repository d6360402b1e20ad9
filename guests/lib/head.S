/*
 * head.S - entry point, Xen ELF notes, hypercall page, boot stack.
 *
 * 64-bit PV start of day (checklist 1.9): RSI = VA of start_info, RSP = top
 * of a boot stack the domain builder made, CS = 0xe033 (ring 3), events
 * masked. We move to our own stack and call kmain(start_info).
 */

/* One Xen ELF note: namesz 4 ("Xen\0"), descsz, type, name, desc. */
.macro XEN_NOTE type, desc_begin, desc_end
    .balign 4
    .long 4
    .long \desc_end - \desc_begin
    .long \type
    .asciz "Xen"
    .balign 4
.endm

#define ELFNOTE_ENTRY           1
#define ELFNOTE_HYPERCALL_PAGE  2
#define ELFNOTE_VIRT_BASE       3
#define ELFNOTE_XEN_VERSION     5
#define ELFNOTE_GUEST_OS        6
#define ELFNOTE_LOADER          8
#define ELFNOTE_PAE_MODE        9
#define ELFNOTE_FEATURES       10

.macro NOTE_STR type, str
    XEN_NOTE \type, 771f, 772f
771: .asciz "\str"
772: .balign 4
.endm

.macro NOTE_QUAD type, val
    XEN_NOTE \type, 771f, 772f
771: .quad \val
772: .balign 4
.endm

    .section .note.Xen, "a", @note
    NOTE_STR  ELFNOTE_GUEST_OS,       "XenSharp-test"
    NOTE_STR  ELFNOTE_LOADER,         "generic"
    NOTE_STR  ELFNOTE_XEN_VERSION,    "xen-3.0"
    NOTE_QUAD ELFNOTE_HYPERCALL_PAGE, hypercall_page
    NOTE_STR  ELFNOTE_FEATURES,       "!writable_page_tables|pae_pgdir_above_4gb"
    NOTE_STR  ELFNOTE_PAE_MODE,       "yes"
    NOTE_QUAD ELFNOTE_VIRT_BASE,      0
    NOTE_QUAD ELFNOTE_ENTRY,          _start

    .section .text.head, "ax", @progbits
    .code64
    .globl _start
    .type _start, @function
_start:
    lea     boot_stack_top(%rip), %rsp
    xor     %ebp, %ebp
    mov     %rsi, %rdi              /* kmain(start_info) */
    call    kmain
    /* kmain does not return; if it does, stop here without privileged insns. */
1:  jmp     1b
    .size _start, . - _start

/*
 * The hypercall page. The hypervisor overwrites it with 128 stubs of 32
 * bytes; we fill it with `ret` (0xc3) so setup can tell it was written.
 */
    .section .text.hypercall_page, "ax", @progbits
    .balign 4096
    .globl hypercall_page
    .type hypercall_page, @object
hypercall_page:
    .fill 4096, 1, 0xc3
    .size hypercall_page, . - hypercall_page

    .section .bss.stack, "aw", @nobits
    .balign 16
boot_stack:
    .skip 16384
boot_stack_top:

    .section .note.GNU-stack, "", @progbits
