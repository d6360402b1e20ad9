#!/usr/bin/env bash
# Machine probes for limits XenSharp cannot work around (docs/conformance.md cites them). Needs gcc, root, /dev/kvm.
set -u
cd "$(dirname "$0")"
d=$(mktemp -d); trap 'rm -rf "$d"' EXIT
gcc -O2 -o "$d/user-read-slot" user-read-slot.c || exit 1
gcc -O2 -o "$d/ss-override" ss-override.c || exit 1
gcc -O2 -o "$d/stack-noncanonical" stack-noncanonical.c || exit 1
gcc -O2 -o "$d/rdfsbase" rdfsbase.c || exit 1
gcc -O2 -o "$d/data-breakpoint" data-breakpoint.c || exit 1
gcc -O2 -o "$d/cr0-ts" cr0-ts.c || exit 1
gcc -O2 -o "$d/tsc" tsc.c || exit 1
echo "kvm module: $(ls /sys/module | grep -E '^kvm_(intel|amd|pvm)$' | tr '\n' ' ')"
echo "--- ring-3 read of a user page in L4 slot 256 (Xen's RO M2P), then slots 257, 262, 511"
for va in ffff800000000000 ffff808000000000 ffff830000000000 ffffff8000000000; do "$d/user-read-slot" $va; done
echo "--- ring-3 load with an explicit %ss override from a non-canonical address (architecture: #GP; XTF memop-seg)"
"$d/ss-override"
echo "--- ring-3 load through %rsp / %rbp from a non-canonical address (architecture: #SS; XTF memop-seg)"
"$d/stack-noncanonical"
echo "--- ring-3 rdfsbase with CR4.FSGSBASE clear (architecture: #UD; XTF pv-fsgsbase)"
"$d/rdfsbase"
echo "--- ring-3 read of an address under a DR0 data breakpoint set by KVM_SET_DEBUGREGS (architecture: #DB; XTF xsa-260, debug-regs)"
"$d/data-breakpoint"
echo "--- ring-3 x87 instruction with CR0.TS set (architecture: #NM; Xen fpu_taskswitch)"
"$d/cr0-ts"
echo "--- ring-3 rdtsc against KVM's IA32_TSC and the host TSC (XenSharp's vcpu_time_info is in the guest's TSC)"
"$d/tsc"
