using System.Globalization;

namespace XenSharp.Toolstack.Daemon;

/// <summary>
/// The consoles of domains that ended on their own (their on_* action removed them) before any console client had
/// attached: `xl console NAME` asked for one a moment too late gets its output and the end, as though it had attached
/// in time. xtf-runner starts `xl console` and `xl unpause` together, and a short guest may be gone before the console
/// client has connected. Invariants: at most <see cref="Capacity"/> kept (the oldest dropped first); each is handed
/// out once; <see cref="_ended"/> changes only under its own lock.
/// </summary>
public sealed class EndedConsoles
{
    public const int Capacity = 16;

    private readonly LinkedList<(ushort Id, string Name, ConsoleHub Console)> _ended = new();

    public void Add(ushort id, string name, ConsoleHub console)
    {
        lock (_ended)
        {
            _ended.AddLast((id, name, console));
            if (_ended.Count > Capacity)
            {
                _ended.RemoveFirst();
            }
        }
    }

    /// <summary>The latest kept console of the domain named (by name or numeric id, as xl names it), removed from the keep; null if none.</summary>
    public (ushort Id, ConsoleHub Console)? Take(string domain)
    {
        bool numeric = domain.Length > 0 && domain.All(char.IsAsciiDigit);
        ushort? id = numeric && ushort.TryParse(domain, NumberStyles.None, CultureInfo.InvariantCulture, out ushort i) ? i : null;
        lock (_ended)
        {
            for (LinkedListNode<(ushort Id, string Name, ConsoleHub Console)>? n = _ended.Last; n is not null; n = n.Previous)
            {
                if (numeric ? n.Value.Id == id : n.Value.Name == domain)
                {
                    _ended.Remove(n);
                    return (n.Value.Id, n.Value.Console);
                }
            }

            return null;
        }
    }
}
