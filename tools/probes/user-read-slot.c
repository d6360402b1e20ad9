// Machine probe: can guest ring-3 code read a user-accessible page mapped at a given kernel-half address?
// XenSharp maps the read-only M2P at 0xffff800000000000 (Xen's L4 slot 256). Usage: user-read-slot VA
// Prints "read ok" (the read worked and the ud2 after it was reached) or the #PF error code.
#include "probe.h"

int main(int argc, char **argv) {
  if (argc < 2) { fprintf(stderr, "usage: %s VA\n", argv[0]); return 2; }
  uint64_t va = strtoull(argv[1], 0, 16);
  uint8_t user[] = {0x48, 0xa1, 0, 0, 0, 0, 0, 0, 0, 0, 0x0f, 0x0b}; // movabs rax, [va]; ud2
  memcpy(user + 2, &va, 8);
  struct probe p = {.user = user, .user_len = sizeof user, .map_va = va};
  struct probe_result r = probe_run(&p);
  if (r.vector == 6) printf("%#llx: read ok\n", (unsigned long long)va);
  else printf("%#llx: vector %d err=%#x\n", (unsigned long long)va, r.vector, r.error);
  return r.vector == 6 ? 0 : 3;
}
