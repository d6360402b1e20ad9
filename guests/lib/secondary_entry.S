/*
 * secondary_entry - a further vCPU's first instruction, for the guests that bring one up with VCPUOP_initialise
 * (its context sets the stack): calls the guest's secondary_main(), never returns. Weak, so guests without one link.
 */
    .text
    .code64
    .weak secondary_main

    .globl secondary_entry
secondary_entry:
    call secondary_main
1:  jmp 1b
