namespace XenSharp.Kvm;

/// <summary>Which kernel module provides /dev/kvm; the guest-visible behaviour differs between them.</summary>
public enum KvmKind
{
    Unknown,

    /// <summary>kvm_intel: VT-x.</summary>
    Intel,

    /// <summary>kvm_amd: AMD-V (SVM).</summary>
    Amd,

    /// <summary>kvm_pvm: page-table based virtualization; guest code really runs at CPL 3.</summary>
    Pvm,
}
