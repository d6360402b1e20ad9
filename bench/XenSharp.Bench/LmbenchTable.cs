using static XenSharp.Bench.Report;

namespace XenSharp.Bench;

/// <summary>
/// Figure (e)'s table: each of the paper's lmbench rows, native on the host beside the same program in the Linux
/// domU, and their ratio guest/host. A row the guest did not give (no KVM here, a failed boot) says why in the
/// guest's column; a row the host did not give is a failure of the bench, not a skip.
/// </summary>
public static class LmbenchTable
{
    /// <summary>The rows, in the paper's order, with what each times (bench/native/lmbench-rows.c).</summary>
    public static readonly (string Name, string Meaning)[] Rows =
    [
        ("null_syscall", "null system call: `syscall(SYS_getppid)`"),
        ("fork_exit", "fork + exit: `fork()`, the child `_exit(0)`s, the parent `waitpid()`s"),
        ("fork_exec", "fork + exec: `fork()`, the child `execve()`s the program with `--exit`, the parent `waitpid()`s"),
        ("ctxsw_pipe", "context switch: two processes pass a byte back and forth over two pipes; per switch (half a round trip, the pipe included)"),
        ("page_fault", "page fault: first read of each page of a fresh `MAP_SHARED` mapping of a cached file"),
        ("mmap_file", "mmap: `mmap()` of a 1 MiB cached file, a read of its first byte, `munmap()`"),
    ];

    public static readonly string[] Columns = ["measurement", "host (native)", "Linux domU on XenSharp", "ratio"];

    /// <param name="host">lmbench-rows run natively on the host; every row must be there.</param>
    /// <param name="guest">the same program in the domU, or null when it was not run.</param>
    /// <param name="guestMissing">what the guest column says for a row the guest did not give, e.g. "skipped: no /dev/kvm".</param>
    public static IEnumerable<string[]> Build(LmbenchOutput host, LmbenchOutput? guest, string guestMissing)
    {
        foreach ((string name, string meaning) in Rows)
        {
            LmbenchRow h = host.Find(name) ?? throw new BenchException($"lmbench-rows on the host printed no {name} row");
            LmbenchRow? g = guest?.Find(name);
            yield return
            [
                Invariant($"{meaning} (host n = {h.Count}{(g is null ? "" : Invariant($", guest n = {g.Count}"))})"),
                Us(h.Seconds),
                g is null ? guestMissing : Us(g.Seconds),
                g is null ? "–" : "guest/host " + Times(g.Seconds / h.Seconds),
            ];
        }
    }
}
