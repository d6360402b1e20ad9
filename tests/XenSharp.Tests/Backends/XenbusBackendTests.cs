using XenSharp.Abi;
using XenSharp.Backends.Xenbus;
using XenSharp.Backends.Xenstore;
using Xunit;

namespace XenSharp.Tests.Backends;

/// <summary>The backend's side of the xenbus handshake with a fake driver: which frontend state leads where.</summary>
public sealed class XenbusBackendTests : IDisposable
{
    private const string Back = "/local/domain/0/backend/vif/3/0";
    private const string Front = "/local/domain/3/device/vif/0";
    private readonly XenStore _store = new();
    private readonly XsClient _dom0;
    private readonly FakeDriver _driver = new();
    private readonly XenbusBackend _xenbus;

    public XenbusBackendTests()
    {
        _dom0 = _store.Connect(0);
        _dom0.Write($"{Back}/frontend", Front);
        _dom0.Write($"{Back}/frontend-id", "3");
        _dom0.Write($"{Front}/state", "1");
        _xenbus = new XenbusBackend(_store.Connect(0), Back, _driver);
        _xenbus.Start();
        _xenbus.Poll();
    }

    public void Dispose() => _xenbus.Dispose();

    private string? BackState => _dom0.Read($"{Back}/state");

    private void Frontend(XenbusState state)
    {
        _dom0.Write($"{Front}/state", ((int)state).ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.True(_xenbus.Poll());
    }

    [Fact]
    public void ProbeThenInitWaitThenConnectedOnInitialised()
    {
        Assert.Equal("probed", _dom0.Read($"{Back}/feature-fake"));
        Assert.Equal("2", BackState);
        Assert.Equal(3, _xenbus.FrontendId);
        Frontend(XenbusState.Initialised);
        Assert.Equal("4", BackState);
        Assert.Equal(1, _driver.Connects);
        Frontend(XenbusState.Connected); // already connected: nothing again
        Assert.Equal(1, _driver.Connects);
        Assert.False(_xenbus.Poll());
    }

    [Fact]
    public void AFailedConnectIsFatal()
    {
        _driver.Refuse = "no ring-ref";
        Frontend(XenbusState.Initialised);
        Assert.Equal("5", BackState);
        Assert.Equal("no ring-ref", _dom0.Read("/local/domain/0/error/backend/vif/3/0/error"));
        Frontend(XenbusState.Connected);
        Assert.Equal(0, _driver.Connects); // a failed device stays down until the frontend starts over
        Frontend(XenbusState.Closed);
        Assert.Equal("6", BackState);
        _driver.Refuse = null;
        Frontend(XenbusState.Initialising);
        Assert.Equal("2", BackState);
        Frontend(XenbusState.Initialised);
        Assert.Equal("4", BackState);
    }

    [Theory]
    [InlineData(XenbusState.Reconfiguring)]
    [InlineData(XenbusState.Reconfigured)]
    public void StatesABackendDoesNotExpectAreFatal(XenbusState state)
    {
        Frontend(state);
        Assert.Equal("5", BackState);
        Assert.Equal($"saw state {(int)state} at frontend", _dom0.Read("/local/domain/0/error/backend/vif/3/0/error"));
    }

    [Fact]
    public void AFrontendThatGoesAwayLeavesTheBackendClosed()
    {
        Frontend(XenbusState.Initialised);
        _dom0.Remove(Front);
        Assert.True(_xenbus.Poll());
        Assert.Equal("6", BackState);
        Assert.True(_driver.Disconnects > 0);
    }

    private sealed class FakeDriver : IXenbusDriver
    {
        public string? Refuse { get; set; }

        public int Connects { get; private set; }

        public int Disconnects { get; private set; }

        public void Probe(XenbusBackend device, uint tx) => device.Store.Write($"{device.BackendPath}/feature-fake", "probed", tx);

        public string? Connect(XenbusBackend device)
        {
            if (Refuse is not null)
            {
                return Refuse;
            }

            Connects++;
            return null;
        }

        public void Disconnect() => Disconnects++;
    }
}
