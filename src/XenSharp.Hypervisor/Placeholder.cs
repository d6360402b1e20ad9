namespace XenSharp.Hypervisor; internal static class Placeholder {}
