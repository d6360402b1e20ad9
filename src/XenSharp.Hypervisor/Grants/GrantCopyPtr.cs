namespace XenSharp.Hypervisor.Grants;

/// <summary>One side of a gnttab_copy: a grant reference of <see cref="Domid"/> or a frame of the caller, and the byte offset in it.</summary>
internal readonly record struct GrantCopyPtr(ulong RefOrFrame, ushort Domid, ushort Offset);
