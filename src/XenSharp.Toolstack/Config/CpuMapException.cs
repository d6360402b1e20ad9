namespace XenSharp.Toolstack.Config;

/// <summary>A cpumap text (xl's CPUS: vcpu-pin's argument, a config's cpus= and cpus_soft=) that names no usable CPUs; the message is one line.</summary>
public sealed class CpuMapException(string message) : Exception(message);
