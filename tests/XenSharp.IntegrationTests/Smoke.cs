namespace XenSharp.IntegrationTests; public class Smoke { [Xunit.Fact] public void Works() { } }
