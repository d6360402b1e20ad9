// Machine probe: which exception does a ring-3 load with an explicit %ss override and a non-canonical address
// raise? Architecturally (64-bit mode ignores the override) #GP(0); XTF's memop-seg expects that.
#include "probe.h"

int main(void) {
  uint64_t va = 0x8000000040000000ULL;
  uint8_t user[] = {0x48, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0x36, 0x48, 0x8b, 0x00, 0x0f, 0x0b}; // movabs rax,va; mov rax,ss:[rax]; ud2
  memcpy(user + 2, &va, 8);
  struct probe p = {.user = user, .user_len = sizeof user};
  int v = probe_run(&p).vector;
  printf("mov rax, ss:[non-canonical]: vector %d (%s)\n", v, v == 12 ? "#SS" : v == 13 ? "#GP" : "other");
  return 0;
}
