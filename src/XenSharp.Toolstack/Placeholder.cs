namespace XenSharp.Toolstack; internal static class Placeholder {}
