// Machine probe: does a data breakpoint set with KVM_SET_DEBUGREGS (DR0 = an address in the user page, DR7 = enabled,
// read/write, 8 bytes) fire when ring-3 code reads it? 1 = #DB (architectural), 6 = the ud2 after the read was
// reached, i.e. no breakpoint (XTF xsa-260 and debug-regs need breakpoints).
#include "probe.h"

int main(void) {
  uint64_t va = 0x20800;
  uint8_t user[] = {0x48, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0x48, 0x8b, 0x00, 0x0f, 0x0b}; // movabs rax,va; mov rax,[rax]; ud2
  memcpy(user + 2, &va, 8);
  struct probe p = {.user = user, .user_len = sizeof user, .set_debugregs = 1, .dr0 = va,
                    .dr7 = 0x400 | 0x3 | (3ULL << 16) | (2ULL << 18)};
  int v = probe_run(&p).vector;
  printf("ring-3 read of a DR0 data breakpoint: vector %d (%s)\n", v, v == 1 ? "#DB, architectural" : v == 6 ? "no #DB: the breakpoint did not fire" : "other");
  return 0;
}
