using System.Net.Sockets;
using XenSharp.Kvm;
using Xunit;

namespace XenSharp.Tests.Kvm;

/// <summary>HostFiles.TypeOf: lstat's file type, which .NET's own file APIs do not give.</summary>
public sealed class HostFilesTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("xensharp-hostfiles-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void TellsEachKindOfFileApart()
    {
        string file = Path.Combine(_dir, "file");
        File.WriteAllText(file, "x");
        string link = Path.Combine(_dir, "link");
        File.CreateSymbolicLink(link, file);
        string socket = Path.Combine(_dir, "socket");
        using var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified); // .NET removes the file on Dispose
        s.Bind(new UnixDomainSocketEndPoint(socket));

        Assert.Equal(HostFileType.Regular, HostFiles.TypeOf(file));
        Assert.Equal(HostFileType.Directory, HostFiles.TypeOf(_dir));
        Assert.Equal(HostFileType.SymbolicLink, HostFiles.TypeOf(link)); // the link itself, not what it points at
        Assert.Equal(HostFileType.Socket, HostFiles.TypeOf(socket));
        Assert.Equal(HostFileType.CharacterDevice, HostFiles.TypeOf("/dev/null"));
        Assert.Equal(HostFileType.None, HostFiles.TypeOf(Path.Combine(_dir, "absent")));
        Assert.Equal(HostFileType.None, HostFiles.TypeOf(Path.Combine(file, "below-a-file")));
    }
}
