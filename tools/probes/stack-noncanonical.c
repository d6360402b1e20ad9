// Machine probe: which exception does a ring-3 load through %rsp or %rbp (stack segment by default) from a
// non-canonical address raise? Architecturally #SS(0); XTF's memop-seg expects that. QEMU's software CPU raises
// #GP(0) for every non-canonical address, whatever the segment.
#include "probe.h"

static void load_through(uint8_t reg, uint8_t modrm, const char *what) {
  uint64_t va = 0x8000000040000000ULL;
  uint8_t user[] = {0x48, reg, 0, 0, 0, 0, 0, 0, 0, 0, 0x48, 0x8b, modrm, 0x24, 0x0f, 0x0b}; // movabs reg,va; mov rax,[reg]; ud2
  memcpy(user + 2, &va, 8);
  if (modrm == 0x45) user[13] = 0x00;                                                        // [rbp + 0]
  struct probe p = {.user = user, .user_len = sizeof user};
  int v = probe_run(&p).vector;
  printf("mov rax, [%s = non-canonical]: vector %d (%s)\n", what, v, v == 12 ? "#SS, architectural" : v == 13 ? "#GP" : "other");
}

int main(void) {
  load_through(0xbc, 0x04, "rsp"); // movabs rsp; mov rax, [rsp] (SIB 0x24)
  load_through(0xbd, 0x45, "rbp"); // movabs rbp; mov rax, [rbp + 0]
  return 0;
}
