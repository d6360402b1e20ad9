/*
 * The secondary vCPU's first instruction (VCPUOP_initialise sets its stack): run secondary_main, never return.
 */
    .text
    .code64

    .globl secondary_entry
secondary_entry:
    call secondary_main
1:  jmp 1b
