namespace XenSharp.Hypervisor.Domains;

public enum DomainState
{
    Created,
    Running,
    /// <summary>The guest asked to shut down (sched_op shutdown); see <see cref="Domain.ShutdownReason"/>.</summary>
    Shutdown,
    /// <summary>The hypervisor crashed the domain; see <see cref="Domain.CrashReason"/>.</summary>
    Crashed,
    Destroyed,
}
