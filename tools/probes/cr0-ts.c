// Machine probe: does a ring-3 x87 instruction raise #NM when the VM's CR0.TS is set (as the architecture says, and
// as Xen's fpu_taskswitch relies on)? 7 = #NM (architectural), 3 = it ran (the int3 after it).
#include "probe.h"

int main(void) {
  uint8_t user[] = {0xd9, 0xd0, 0xcc}; // fnop; int3
  struct probe p = {.user = user, .user_len = sizeof user, .cr0_extra = 8 /* TS */};
  int v = probe_run(&p).vector;
  printf("fnop with CR0.TS set: vector %d (%s)\n", v, v == 7 ? "#NM, architectural" : v == 3 ? "executed: CR0.TS is ignored" : "other");
  return 0;
}
