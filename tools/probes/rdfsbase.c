// Machine probe: does ring-3 RDFSBASE raise #UD when the VM's CR4.FSGSBASE is clear (as the architecture says and
// XTF's pv-fsgsbase expects)? 6 = #UD (architectural), 3 = it ran (the int3 after it).
#include "probe.h"

int main(void) {
  uint8_t user[] = {0xf3, 0x48, 0x0f, 0xae, 0xc0, 0xcc}; // rdfsbase rax; int3
  struct probe p = {.user = user, .user_len = sizeof user};
  int v = probe_run(&p).vector;
  printf("rdfsbase with CR4.FSGSBASE clear: vector %d (%s)\n", v, v == 6 ? "#UD, architectural" : v == 3 ? "executed: the host's FSGSBASE leaks" : "other");
  return 0;
}
