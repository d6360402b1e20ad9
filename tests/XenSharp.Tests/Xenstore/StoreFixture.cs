using XenSharp.Abi;
using XenSharp.Backends.Xenstore;
using Xunit;

namespace XenSharp.Tests.Xenstore;

/// <summary>A store with domain 0's client and guest homes laid out as xl lays them out (home readable, data/ owned).</summary>
internal sealed class StoreFixture : IDisposable
{
    public StoreFixture(Func<uint, bool>? domainExists = null)
    {
        Store = new XenStore(domainExists: domainExists);
        Dom0 = Store.Connect(0);
    }

    public XenStore Store { get; }

    public XsClient Dom0 { get; }

    /// <summary>/local/domain/&lt;id&gt; as [n0, r&lt;id&gt;] with data/ as [n&lt;id&gt;], and a client acting as that domain.</summary>
    public XsClient Guest(uint domid)
    {
        string home = $"/local/domain/{domid}";
        Assert.Equal(XsError.None, Dom0.Mkdir(home));
        Assert.Equal(XsError.None, Dom0.SetPermissions(home, XsPermission.None(0), XsPermission.Read(domid)));
        Assert.Equal(XsError.None, Dom0.Write($"{home}/name", $"guest{domid}"));
        Assert.Equal(XsError.None, Dom0.Mkdir($"{home}/data"));
        Assert.Equal(XsError.None, Dom0.SetPermissions($"{home}/data", XsPermission.None(domid)));
        return Store.Connect(domid);
    }

    public void Dispose() => Dom0.Dispose();

    public static void AssertError(XsError expected, XsReply reply)
    {
        Assert.Equal(XsMessageType.Error, reply.Type);
        Assert.Equal(expected.ToString(), reply.Text);
        Assert.Equal(expected.ToString() + "\0", System.Text.Encoding.ASCII.GetString(reply.Payload));
    }
}
