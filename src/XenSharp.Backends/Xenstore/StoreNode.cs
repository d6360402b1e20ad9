namespace XenSharp.Backends.Xenstore;

/// <summary>
/// One node of the database: its value (bytes), permissions (entry 0 names the owner), the leaf names of its children in
/// creation order, and the generation of its last change (transactions compare generations to find conflicts).
/// Nodes in the database are never changed in place: a change writes a modified <see cref="Clone"/>.
/// </summary>
internal sealed class StoreNode
{
    /// <summary>The generation of a node that does not exist (xenstored's NO_GENERATION).</summary>
    public const ulong NoGeneration = ulong.MaxValue;

    public StoreNode(string name, byte[] value, XsPermission[] permissions, List<string> children)
    {
        Name = name;
        Value = value;
        Permissions = permissions;
        Children = children;
    }

    public string Name { get; }

    public byte[] Value { get; set; }

    public XsPermission[] Permissions { get; set; }

    public List<string> Children { get; }

    public ulong Generation { get; set; }

    public uint Owner => Permissions[0].Domid;

    /// <summary>Bytes of the children list as DIRECTORY sends it: every leaf name followed by a NUL.</summary>
    public int ChildrenLength => Children.Sum(c => c.Length + 1);

    /// <summary>
    /// The size xenstored charges against the "node-size" quota (calc_node_acc_size): a 16-byte header, 8 bytes per
    /// permission, the value and the children list.
    /// </summary>
    public int AccountedSize => 16 + (8 * Permissions.Length) + Value.Length + ChildrenLength;

    public StoreNode Clone() => new(Name, Value, (XsPermission[])Permissions.Clone(), new List<string>(Children)) { Generation = Generation };

    public byte[] ChildrenBytes()
    {
        var bytes = new byte[ChildrenLength];
        int at = 0;
        foreach (string c in Children)
        {
            at += System.Text.Encoding.Latin1.GetBytes(c, bytes.AsSpan(at)) + 1;
        }

        return bytes;
    }
}
