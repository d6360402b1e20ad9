// Machine probe: does a ring-3 x87 instruction raise #NM when the VM's CR0.TS is set (as the architecture says, and
// as Xen's fpu_taskswitch relies on)? Prints the vector: 7 = #NM (architectural), 3 = it ran (the int3 after it).
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <linux/kvm.h>
#define MEM (4 << 20)
static uint8_t *m;
static uint64_t next = 0x100000, *pml4;
static void map(uint64_t va, uint64_t pa, int user, int rw) {
  uint64_t *t = pml4;
  for (int lvl = 3; lvl > 0; lvl--) {
    int i = (va >> (12 + 9 * lvl)) & 511;
    if (!(t[i] & 1)) { t[i] = next | 7; next += 0x1000; }
    t = (uint64_t *)(m + (t[i] & ~0xfffULL));
  }
  t[(va >> 12) & 511] = pa | 1 | (rw ? 2 : 0) | (user ? 4 : 0);
}
static void gate(int v, uint64_t a) {
  uint64_t *e = (uint64_t *)(m + 0x9000 + 16 * v);
  e[0] = (a & 0xffff) | ((uint64_t)0x08 << 16) | ((uint64_t)0x8e00 << 32) | (((a >> 16) & 0xffff) << 48); e[1] = a >> 32;
}
int main(int argc, char **argv) {
  (void)argc; (void)argv;
  uint64_t va = 0x8000000040000000ULL;
  int k = open("/dev/kvm", O_RDWR), vm = ioctl(k, KVM_CREATE_VM, 0);
  m = mmap(0, MEM, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  struct kvm_userspace_memory_region r = {0, 0, 0, MEM, (uint64_t)m};
  ioctl(vm, KVM_SET_USER_MEMORY_REGION, &r);
  pml4 = (uint64_t *)(m + 0x1000);
  for (uint64_t a = 0; a < 0x100000; a += 0x1000) map(a, a, a == 0x20000 || a == 0x7f000, 1);
  uint8_t user[] = {0xd9, 0xd0, 0xcc}; // fnop; int3
  (void)va; memcpy(m + 0x20000, user, sizeof user);
  uint8_t start[] = {0x6a, 0x23, 0x68, 0x00, 0xf0, 0x07, 0x00, 0x6a, 0x02, 0x6a, 0x2b, 0x68, 0x00, 0x00, 0x02, 0x00, 0x48, 0xcf};
  memcpy(m + 0x10000, start, sizeof start);             // push ss, rsp, rflags, cs, rip; iretq to ring 3
  m[0x30000] = 0xe6; m[0x30001] = 0x10; m[0x30002] = 0xf4;   // #UD: out 0x10
  uint8_t pf[] = {0x0f, 0x20, 0xd0, 0xe7, 0x13, 0x58, 0xe7, 0x11, 0xf4}; // mov rax,cr2; out 0x13,eax; pop rax; out 0x11,eax
  memcpy(m + 0x31000, pf, sizeof pf);
  // every vector reports itself: out 0x11 with al = vector
  for (int v = 0; v < 32; v++) { uint8_t h[] = {0xb0, (uint8_t)v, 0xe6, 0x11, 0xf4}; memcpy(m + 0x32000 + 16 * v, h, sizeof h); gate(v, 0x32000 + 16 * v); }
  ((uint64_t *)(m + 0x9000 + 16 * 3))[0] |= 3ULL << 45; // #BP gate DPL 3 so the int3 reaches it
  uint64_t *gdt = (uint64_t *)(m + 0x6000);
  gdt[1] = 0x00209a0000000000ULL; gdt[2] = 0x0000920000000000ULL; gdt[4] = 0x0000f20000000000ULL; gdt[5] = 0x0020fa0000000000ULL;
  *(uint64_t *)(m + 0x8000 + 4) = 0x80000;
  int cpu = ioctl(vm, KVM_CREATE_VCPU, 0);
  struct kvm_run *run = mmap(0, ioctl(k, KVM_GET_VCPU_MMAP_SIZE, 0), PROT_READ | PROT_WRITE, MAP_SHARED, cpu, 0);
  struct { struct kvm_cpuid2 c; struct kvm_cpuid_entry2 e[100]; } cp; cp.c.nent = 100;
  ioctl(k, KVM_GET_SUPPORTED_CPUID, &cp); ioctl(cpu, KVM_SET_CPUID2, &cp);
  struct kvm_sregs s; ioctl(cpu, KVM_GET_SREGS, &s);
  s.cr3 = 0x1000; s.cr4 = 0x20 | 0x200 | 0x400; s.cr0 = 0x80050033 | 8; /* TS */ s.efer = 0x501;
  struct kvm_segment cs = {.limit = 0xffffffff, .selector = 0x08, .type = 11, .present = 1, .s = 1, .l = 1, .g = 1};
  struct kvm_segment ds = {.limit = 0xffffffff, .selector = 0x10, .type = 3, .present = 1, .db = 1, .s = 1, .g = 1};
  s.cs = cs; s.ds = s.es = s.fs = s.gs = s.ss = ds; s.gdt.base = 0x6000; s.gdt.limit = 0x2f; s.idt.base = 0x9000; s.idt.limit = 32 * 16 - 1;
  struct kvm_segment tr = {.base = 0x8000, .limit = 0x67, .type = 11, .present = 1}; s.tr = tr;
  ioctl(cpu, KVM_SET_SREGS, &s);
  struct kvm_regs rg = {0}; rg.rflags = 2; rg.rsp = 0x80000; rg.rip = 0x10000; ioctl(cpu, KVM_SET_REGS, &rg);
  uint32_t cr2 = 0;
  for (int n = 0; n < 4; n++) {
    if (ioctl(cpu, KVM_RUN, 0) < 0) { perror("KVM_RUN"); return 1; }
    if (run->exit_reason != KVM_EXIT_IO) { printf("%#llx: exit %d\n", (unsigned long long)va, run->exit_reason); return 1; }
    uint32_t d = *(uint32_t *)((uint8_t *)run + run->io.data_offset);
    if (run->io.port == 0x13) { cr2 = d; continue; }
    if (run->io.port == 0x11) { printf("fnop with CR0.TS set: vector %u (%s)\n", d & 0xff, (d & 0xff) == 7 ? "#NM, architectural" : (d & 0xff) == 3 ? "executed: CR0.TS is ignored" : "other"); return 0; }
  }
  return 1;
}
