namespace XenSharp.Kvm; internal static class Placeholder {}
