namespace XenSharp.Abi; internal static class Placeholder {}
