namespace XenSharp.Hypervisor.Domains;

/// <summary>One domain's machine: starts its first vCPU; disposing stops every vCPU thread and frees the machine.</summary>
internal interface IDomainMachine : IDisposable
{
    void Start();
}
