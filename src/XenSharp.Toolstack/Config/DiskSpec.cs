namespace XenSharp.Toolstack.Config;

/// <summary>
/// One entry of `disk=[...]` as xl reads it (xl-disk-configuration(5)), with xl's defaults filled in. Only what
/// XenSharp serves gets this far: a raw image file or block device on domain 0's own block backend, as a disk (not a
/// cdrom); anything else is refused by name while the config is read.
/// </summary>
public sealed record DiskSpec
{
    /// <summary>The entry as written in the file, for messages.</summary>
    public required string Entry { get; init; }

    /// <summary>The image file or block device, resolved against the config file's directory as the kernel is.</summary>
    public required string Target { get; init; }

    /// <summary>The virtual device as written (xvda, hdc, sda1, d0p1, 51712).</summary>
    public required string Vdev { get; init; }

    /// <summary>Xen's virtual device number for <see cref="Vdev"/> (xen-vbd-interface(7)): the device id in the store.</summary>
    public required int DeviceNumber { get; init; }

    /// <summary>`access=ro` / `r`: the guest may read and never write.</summary>
    public bool ReadOnly { get; init; }

    /// <summary>`discard` (the default) / `no-discard`: whether the backend offers discard to the frontend.</summary>
    public bool Discard { get; init; } = true;

    /// <summary>`trusted` (the default) / `untrusted`: written to the frontend's `trusted` node as libxl does.</summary>
    public bool Trusted { get; init; } = true;

    /// <summary>`direct-io-safe`: accepted; the backend's I/O is the same either way.</summary>
    public bool DirectIoSafe { get; init; }

    /// <summary>The line of the entry in the config file.</summary>
    public int Line { get; init; }
}
