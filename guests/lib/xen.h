/*
 * xen.h - the slice of the 64-bit Xen PV guest ABI these test guests use.
 *
 * Written for XenSharp from the ABI description in
 * ../shared/reference/pv-abi-checklist.md (beside the repository); values are the public ABI's.
 */
#ifndef GUEST_XEN_H
#define GUEST_XEN_H

#include <stdint.h>

/* Hypercall numbers (checklist 2.4). */
#define HC_set_trap_table    0
#define HC_memory_op        12
#define HC_xen_version      17
#define HC_console_io       18
#define HC_vm_assist        21
#define HC_iret             23
#define HC_sched_op         29

/* errno values as the hypervisor returns them (negated). */
#define XEN_EPERM    1
#define XEN_ENOENT   2
#define XEN_EINVAL  22
#define XEN_ENOSYS  38

/* xen_version sub-commands. */
#define XENVER_version           0
#define XENVER_extraversion      1
#define XENVER_capabilities      3
#define XENVER_get_features      6
#define XENVER_pagesize          7

struct xen_feature_info {
    uint32_t submap_idx;     /* IN: which 32-bit submap */
    uint32_t submap;         /* OUT */
};

#define XENFEAT_writable_page_tables       0
#define XENFEAT_auto_translated_physmap    2
#define XENFEAT_dom0                      11

/* console_io sub-commands. */
#define CONSOLEIO_write  0
#define CONSOLEIO_read   1

/* sched_op sub-commands and shutdown reasons. */
#define SCHEDOP_yield     0
#define SCHEDOP_block     1
#define SCHEDOP_shutdown  2

#define SHUTDOWN_poweroff 0
#define SHUTDOWN_reboot   1
#define SHUTDOWN_suspend  2
#define SHUTDOWN_crash    3

struct sched_shutdown {
    uint32_t reason;
};

/* memory_op sub-commands. */
#define XENMEM_current_reservation  3
#define XENMEM_maximum_reservation  4

typedef uint16_t domid_t;
#define DOMID_SELF ((domid_t)0x7ff0)

/* vm_assist. */
#define VMASST_CMD_enable                  0
#define VMASST_CMD_disable                 1
#define VMASST_TYPE_writable_pagetables    2

/* Reserved hypervisor virtual range (L4 slots 256..271). */
#define HYPERVISOR_VIRT_START  0xffff800000000000UL
#define HYPERVISOR_VIRT_END    0xffff880000000000UL

/* start_info flags. */
#define SIF_PRIVILEGED     (1u << 0)
#define SIF_INITDOMAIN     (1u << 1)
#define SIF_MOD_START_PFN  (1u << 3)

#define MAX_GUEST_CMDLINE 1024

/* start_info for a 64-bit PV guest: 1168 bytes (checklist 1.7). */
struct start_info {
    char magic[32];                 /*    0 "xen-3.0-x86_64" */
    uint64_t nr_pages;              /*   32 */
    uint64_t shared_info;           /*   40 machine address */
    uint32_t flags;                 /*   48 SIF_* */
    uint32_t _pad0;
    uint64_t store_mfn;             /*   56 */
    uint32_t store_evtchn;          /*   64 */
    uint32_t _pad1;
    union {                         /*   72 */
        struct {
            uint64_t mfn;           /*   72 */
            uint32_t evtchn;        /*   80 */
            uint32_t _pad;
        } domU;
        struct {
            uint32_t info_off;      /*   72 */
            uint32_t info_size;     /*   76 */
        } dom0;
    } console;
    uint64_t pt_base;               /*   88 VA of the L4 */
    uint64_t nr_pt_frames;          /*   96 */
    uint64_t mfn_list;              /*  104 VA of the P2M */
    uint64_t mod_start;             /*  112 */
    uint64_t mod_len;               /*  120 */
    char cmd_line[MAX_GUEST_CMDLINE]; /* 128 */
    uint64_t first_p2m_pfn;         /* 1152 */
    uint64_t nr_p2m_frames;         /* 1160 */
};

_Static_assert(__builtin_offsetof(struct start_info, nr_pages) == 32, "start_info layout");
_Static_assert(__builtin_offsetof(struct start_info, flags) == 48, "start_info layout");
_Static_assert(__builtin_offsetof(struct start_info, store_evtchn) == 64, "start_info layout");
_Static_assert(__builtin_offsetof(struct start_info, console) == 72, "start_info layout");
_Static_assert(__builtin_offsetof(struct start_info, pt_base) == 88, "start_info layout");
_Static_assert(__builtin_offsetof(struct start_info, cmd_line) == 128, "start_info layout");
_Static_assert(__builtin_offsetof(struct start_info, first_p2m_pfn) == 1152, "start_info layout");
_Static_assert(sizeof(struct start_info) == 1168, "start_info size");

#define XEN_START_MAGIC "xen-3.0-x86_64"

/* vcpu_time_info (32 bytes): system time = system_time + scale(rdtsc - tsc_timestamp); see pvclock_read(). */
struct vcpu_time_info {
    uint32_t version, pad0;          /* odd while the hypervisor updates it */
    uint64_t tsc_timestamp, system_time;
    uint32_t tsc_to_system_mul;
    int8_t tsc_shift;
    uint8_t flags, pad1[2];          /* flags bit 0: TSC_STABLE */
};

/* vcpu_info (64 bytes): in shared_info for vCPUs 0-31, or where VCPUOP_register_vcpu_info put it. */
struct vcpu_info {
    uint8_t evtchn_upcall_pending, evtchn_upcall_mask;
    uint8_t pad[6];
    unsigned long evtchn_pending_sel;
    unsigned long cr2, pad2;
    struct vcpu_time_info time;
};

/* The head of shared_info up to the wall clock. */
struct shared_info {
    struct vcpu_info vcpu_info[32];
    unsigned long evtchn_pending[64];
    unsigned long evtchn_mask[64];
    uint32_t wc_version, wc_sec, wc_nsec, wc_sec_hi;
};

_Static_assert(sizeof(struct vcpu_info) == 64, "vcpu_info size");
_Static_assert(__builtin_offsetof(struct shared_info, evtchn_pending) == 2048, "shared_info layout");
_Static_assert(__builtin_offsetof(struct shared_info, wc_version) == 3072, "shared_info layout");

/* vcpu_guest_context (x86-64, 5168 bytes): what VCPUOP_initialise takes; flags VGCF_*, the trap table inline. */
#define VGCF_in_kernel (1UL << 2)
struct vcpu_guest_context {
    uint8_t fpu[512];
    unsigned long flags;
    unsigned long r15, r14, r13, r12, rbp, rbx, r11, r10, r9, r8, rax, rcx, rdx, rsi, rdi;
    uint32_t error_code, entry_vector;
    unsigned long rip;
    uint16_t cs, pad0[3];
    unsigned long rflags, rsp;
    uint16_t ss, pad1[3], es, pad2[3], ds, pad3[3], fs, pad4[3], gs, pad5[3];
    struct { uint8_t vector, flags; uint16_t cs; uint32_t pad; unsigned long address; } trap_ctxt[256];
    unsigned long ldt_base, ldt_ents, gdt_frames[16], gdt_ents, kernel_ss, kernel_sp, ctrlreg[8], debugreg[8];
    unsigned long event_callback_eip, failsafe_callback_eip, syscall_callback_eip, vm_assist;
    unsigned long fs_base, gs_base_kernel, gs_base_user;
};
_Static_assert(sizeof(struct vcpu_guest_context) == 5168, "vcpu_guest_context");

#endif /* GUEST_XEN_H */
