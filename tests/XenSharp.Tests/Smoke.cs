namespace XenSharp.Tests; public class Smoke { [Xunit.Fact] public void Works() { } }
