// Machine probe: which TSC does a guest's ring-3 `rdtsc` read, and does KVM's view of it (KVM_GET_MSRS IA32_TSC,
// KVM_GET_TSC_KHZ) agree? XenSharp expresses vcpu_time_info in the guest's TSC, and converts timer deadlines through
// KVM's IA32_TSC, so the two must be the same clock. Prints the guest's rdtsc, IA32_TSC read just after, the host's
// own TSC, and the offsets between them.
#include "probe.h"
#include <x86intrin.h>
#include <unistd.h>

static void after(int cpu) {
  struct kvm_regs rg; ioctl(cpu, KVM_GET_REGS, &rg);
  uint64_t guest = (rg.r9 << 32) | (uint32_t)rg.r8;
  struct { struct kvm_msrs m; struct kvm_msr_entry e; } msr = {.m.nmsrs = 1, .e.index = 0x10};
  uint64_t h0 = __rdtsc();
  ioctl(cpu, KVM_GET_MSRS, &msr);
  uint64_t h1 = __rdtsc();
  long khz = ioctl(cpu, KVM_GET_TSC_KHZ, 0);
  printf("guest rdtsc %llu; IA32_TSC after exit %llu (+%lld); host TSC %llu; host - IA32_TSC %lld; KVM_GET_TSC_KHZ %ld\n",
         (unsigned long long)guest, (unsigned long long)msr.e.data, (long long)(msr.e.data - guest),
         (unsigned long long)h0, (long long)(h0 - msr.e.data), khz);
  usleep(200000);
  uint64_t h2 = __rdtsc(); ioctl(cpu, KVM_GET_MSRS, &msr); (void)h1;
  printf("200 ms later: host - IA32_TSC %lld (a constant offset means the same rate)\n", (long long)(h2 - msr.e.data));
}

int main(void) {
  uint8_t user[] = {0x0f, 0x31, 0x49, 0x89, 0xc0, 0x49, 0x89, 0xd1, 0xcc}; // rdtsc; mov r8, rax; mov r9, rdx; int3
  struct probe p = {.user = user, .user_len = sizeof user, .after = after};
  int v = probe_run(&p).vector;
  printf("ended by vector %d\n", v);
  return 0;
}
