// The one small VM every probe here runs: identity-mapped low 1 MiB (supervisor, except the user code page at
// 0x20000 and the user stack page at 0x7f000), a ring-0 start that irets to the user code in ring 3, and an IDT whose
// every vector reports itself to the host (out 0x11 = vector; out 0x13 = the error code first, where there is one).
// A probe supplies the ring-3 code and what to change in the machine, and reads back the vector that ended the run.
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <linux/kvm.h>

struct probe {
  const uint8_t *user; size_t user_len;   // ring-3 code, copied to 0x20000
  uint64_t map_va;                        // if non-zero: a read-only user page (phys 0x50000) mapped at this address
  uint64_t cr0_extra;                     // bits ORed into CR0 (e.g. TS)
  int set_debugregs; uint64_t dr0, dr7;   // KVM_SET_DEBUGREGS before running
  void (*after)(int vcpu_fd);             // if set: called with the vCPU when the ring-3 code has ended (vector exit)
};
struct probe_result { int vector; uint32_t error; };

static uint8_t *probe_mem;
static uint64_t probe_next = 0x100000, *probe_pml4;

static void probe_map(uint64_t va, uint64_t pa, int user, int rw) {
  uint64_t *t = probe_pml4;
  for (int lvl = 3; lvl > 0; lvl--) {
    int i = (va >> (12 + 9 * lvl)) & 511;
    if (!(t[i] & 1)) { t[i] = probe_next | 7; probe_next += 0x1000; }
    t = (uint64_t *)(probe_mem + (t[i] & ~0xfffULL));
  }
  t[(va >> 12) & 511] = pa | 1 | (rw ? 2 : 0) | (user ? 4 : 0);
}

static void probe_gate(int v, uint64_t a, int dpl) {
  uint64_t *e = (uint64_t *)(probe_mem + 0x9000 + 16 * v);
  e[0] = (a & 0xffff) | ((uint64_t)0x08 << 16) | ((uint64_t)(0x8e00 | (dpl << 13)) << 32) | (((a >> 16) & 0xffff) << 48);
  e[1] = a >> 32;
}

static struct probe_result probe_run(const struct probe *p) {
  struct probe_result r = {-1, 0};
  int k = open("/dev/kvm", O_RDWR), vm = ioctl(k, KVM_CREATE_VM, 0);
  const size_t mem = 4 << 20;
  probe_mem = mmap(0, mem, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  struct kvm_userspace_memory_region region = {0, 0, 0, mem, (uint64_t)probe_mem};
  ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region);
  probe_pml4 = (uint64_t *)(probe_mem + 0x1000);
  for (uint64_t a = 0; a < 0x100000; a += 0x1000) probe_map(a, a, a == 0x20000 || a == 0x7f000, 1);
  if (p->map_va) probe_map(p->map_va, 0x50000, 1, 0);
  memcpy(probe_mem + 0x20000, p->user, p->user_len);
  uint8_t start[] = {0x6a, 0x23, 0x68, 0x00, 0xf0, 0x07, 0x00, 0x6a, 0x02, 0x6a, 0x2b, 0x68, 0x00, 0x00, 0x02, 0x00, 0x48, 0xcf};
  memcpy(probe_mem + 0x10000, start, sizeof start);   // push ss, rsp, rflags, cs, rip; iretq to ring 3
  for (int v = 0; v < 32; v++) {
    int err = v == 8 || (v >= 10 && v <= 14) || v == 17;
    uint8_t h[] = {0x58, 0xe7, 0x13, 0xb0, (uint8_t)v, 0xe6, 0x11, 0xf4}; // [pop rax; out 0x13, eax;] mov al, v; out 0x11, al; hlt
    memcpy(probe_mem + 0x32000 + 16 * v, err ? h : h + 3, err ? sizeof h : sizeof h - 3);
    probe_gate(v, 0x32000 + 16 * v, v == 3 ? 3 : 0);  // int3 reachable from ring 3
  }
  uint64_t *gdt = (uint64_t *)(probe_mem + 0x6000);
  gdt[1] = 0x00209a0000000000ULL; gdt[2] = 0x0000920000000000ULL; gdt[4] = 0x0000f20000000000ULL; gdt[5] = 0x0020fa0000000000ULL;
  *(uint64_t *)(probe_mem + 0x8000 + 4) = 0x80000;
  int cpu = ioctl(vm, KVM_CREATE_VCPU, 0);
  struct kvm_run *run = mmap(0, ioctl(k, KVM_GET_VCPU_MMAP_SIZE, 0), PROT_READ | PROT_WRITE, MAP_SHARED, cpu, 0);
  struct { struct kvm_cpuid2 c; struct kvm_cpuid_entry2 e[100]; } cp; cp.c.nent = 100;
  ioctl(k, KVM_GET_SUPPORTED_CPUID, &cp); ioctl(cpu, KVM_SET_CPUID2, &cp);
  struct kvm_sregs s; ioctl(cpu, KVM_GET_SREGS, &s);
  s.cr3 = 0x1000; s.cr4 = 0x20 | 0x200 | 0x400; s.cr0 = 0x80050033 | p->cr0_extra; s.efer = 0x501;
  struct kvm_segment cs = {.limit = 0xffffffff, .selector = 0x08, .type = 11, .present = 1, .s = 1, .l = 1, .g = 1};
  struct kvm_segment ds = {.limit = 0xffffffff, .selector = 0x10, .type = 3, .present = 1, .db = 1, .s = 1, .g = 1};
  s.cs = cs; s.ds = s.es = s.fs = s.gs = s.ss = ds; s.gdt.base = 0x6000; s.gdt.limit = 0x2f; s.idt.base = 0x9000; s.idt.limit = 32 * 16 - 1;
  struct kvm_segment tr = {.base = 0x8000, .limit = 0x67, .type = 11, .present = 1}; s.tr = tr;
  ioctl(cpu, KVM_SET_SREGS, &s);
  if (p->set_debugregs) {
    struct kvm_debugregs dbg = {0}; dbg.db[0] = p->dr0; dbg.dr6 = 0xffff0ff0; dbg.dr7 = p->dr7;
    if (ioctl(cpu, KVM_SET_DEBUGREGS, &dbg) < 0) { perror("KVM_SET_DEBUGREGS"); return r; }
  }
  struct kvm_regs rg = {0}; rg.rflags = 2; rg.rsp = 0x80000; rg.rip = 0x10000; ioctl(cpu, KVM_SET_REGS, &rg);
  for (int n = 0; n < 4; n++) {
    if (ioctl(cpu, KVM_RUN, 0) < 0) { perror("KVM_RUN"); return r; }
    if (run->exit_reason != KVM_EXIT_IO) { fprintf(stderr, "unexpected exit %d\n", run->exit_reason); return r; }
    uint32_t d = *(uint32_t *)((uint8_t *)run + run->io.data_offset);
    if (run->io.port == 0x13) { r.error = d; continue; }
    if (run->io.port == 0x11) { r.vector = d & 0xff; if (p->after) p->after(cpu); return r; }
  }
  return r;
}
