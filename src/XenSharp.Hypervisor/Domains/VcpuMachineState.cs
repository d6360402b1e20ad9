namespace XenSharp.Hypervisor.Domains;

/// <summary>
/// The part of a vCPU's state only its machine holds (the rest is in the stub frame, the data page and
/// <see cref="Vcpu"/>): the segment bases as loaded (GsBase is the active one, ShadowGsBase the one swapgs brings in),
/// the data segment selectors, and the FPU/SSE state as a 512-byte FXSAVE image (Xen's fpu_ctxt). Like Xen's
/// vcpu_guest_context it has no extended state: the upper halves of the YMM registers, AVX-512 state and XCR0 stay in
/// the machine (Xen's XEN_DOMCTL_getvcpuextstate carries them; not implemented).
/// </summary>
internal sealed record VcpuMachineState(
    ulong FsBase,
    ulong GsBase,
    ulong ShadowGsBase,
    ushort Ds,
    ushort Es,
    ushort Fs,
    ushort Gs,
    byte[] Fxsave)
{
    public const int FxsaveSize = 512;
}
