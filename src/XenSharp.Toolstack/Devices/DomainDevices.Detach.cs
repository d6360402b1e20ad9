using System.Diagnostics;
using System.Globalization;
using XenSharp.Abi;
using XenSharp.Backends.Xenstore;
using XenSharp.Toolstack.Store;

namespace XenSharp.Toolstack.Devices;

/// <summary>Unplugging a device, as libxl__initiate_device_generic_remove and libxl__device_destroy do it.</summary>
public sealed partial class DomainDevices
{
    /// <summary>How often a detach looks at the backend's state while it waits (the backends' own poll interval).</summary>
    public static readonly TimeSpan DetachPollInterval = TimeSpan.FromMilliseconds(10);

    /// <summary>
    /// Detaches device <paramref name="devid"/> of <paramref name="kind"/>: unless <paramref name="force"/>, the backend's
    /// <c>online</c> becomes 0 and its <c>state</c> Closing (5) in one transaction (not over a backend already Closed),
    /// and the detach waits, up to <paramref name="limit"/>, for the backend to reach Closed (6), which it does once
    /// the guest's frontend has closed (Linux's blkfront and netfront close on the backend's Closing); then, or at once
    /// with <paramref name="force"/>, or when the limit has passed (libxl's timeout goes on as a forced remove), the
    /// device is torn down (<see cref="Teardown"/>). Returns false when the limit passed first. An unknown device, or one
    /// already being detached, is a <see cref="DeviceException"/>.
    /// </summary>
    public async Task<bool> DetachAsync(string kind, int devid, bool force, TimeSpan limit)
    {
        PluggedDevice device;
        string statePath;
        lock (_lock)
        {
            device = _devices.Find(d => d.Kind == kind && d.DeviceId == devid) ?? throw new DeviceException($"domain {_domid} has no {kind} {devid}");
            if (device.Detaching)
            {
                throw new DeviceException($"{kind} {devid} of domain {_domid} is already being detached");
            }

            device.Detaching = true;
            statePath = $"{device.Xenbus.BackendPath}/state";
            if (!force)
            {
                RequestClose(device.Xenbus.BackendPath);
            }
        }

        bool closed = force || await WaitClosedAsync(statePath, limit);
        lock (_lock)
        {
            if (_devices.Remove(device))
            {
                Teardown(device); // else the domain went meanwhile, and Dispose tore it down
            }
        }

        return closed;
    }

    // libxl: online 0, and state Closing unless the backend is already Closed (or gone).
    private void RequestClose(string back)
    {
        _dom0.Transact(tx =>
        {
            XsError e = _dom0.Write($"{back}/online", "0", tx);
            string? state = _dom0.Read($"{back}/state", tx);
            return e != XsError.None || state is null || state == Number((int)XenbusState.Closed)
                ? e
                : _dom0.Write($"{back}/state", Number((int)XenbusState.Closing), tx);
        });
    }

    // Whether the backend reached Closed (or its node went, or the domain did) before the limit.
    private async Task<bool> WaitClosedAsync(string statePath, TimeSpan limit)
    {
        long start = Stopwatch.GetTimestamp();
        while (true)
        {
            lock (_lock)
            {
                if (_disposed)
                {
                    return true;
                }
            }

            string? state = _dom0.Read(statePath);
            if (state is null || state == Number((int)XenbusState.Closed))
            {
                return true;
            }

            if (Stopwatch.GetElapsedTime(start) >= limit)
            {
                return false;
            }

            await Task.Delay(DetachPollInterval);
        }
    }

    /// <summary>
    /// The one teardown of a device (libxl__device_destroy after its backend is done): the backend disposed, then its
    /// frontend and backend directories removed in one transaction, with the parents they leave empty. Under <see cref="_lock"/>.
    /// </summary>
    private void Teardown(PluggedDevice device)
    {
        device.Backend.Dispose();
        RemoveNodes(device.Xenbus.BackendPath, device.Xenbus.FrontendPath);
    }

    // libxl__xs_path_cleanup of both paths, in one transaction: each path, then every parent left empty.
    private void RemoveNodes(params string[] paths) => _dom0.Transact(tx =>
    {
        foreach (string path in paths)
        {
            _dom0.Remove(path, tx);
            for (string parent = Parent(path); parent.Length > 0 && _dom0.Directory(parent, tx) is { Length: 0 }; parent = Parent(parent))
            {
                _dom0.Remove(parent, tx);
            }
        }

        return XsError.None;
    });

    private static string Parent(string path) => path.LastIndexOf('/') is > 0 and int i ? path[..i] : "";

    private static string Number(int n) => n.ToString(CultureInfo.InvariantCulture);
}
