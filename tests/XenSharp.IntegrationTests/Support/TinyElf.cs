using System.Buffers.Binary;

namespace XenSharp.IntegrationTests.Support;

/// <summary>A valid x86-64 ELF executable with one PT_LOAD (a `hlt; jmp .`) and nothing else: no Xen notes, no sections.</summary>
public static class TinyElf
{
    public static byte[] WithoutXenNotes()
    {
        const ulong baseVa = 0x400000;
        const int ehSize = 64;
        const int phSize = 56;
        byte[] code = [0xf4, 0xeb, 0xfd];
        var f = new byte[ehSize + phSize + code.Length];
        Span<byte> s = f;

        // ELF header
        s[0] = 0x7f; s[1] = (byte)'E'; s[2] = (byte)'L'; s[3] = (byte)'F';
        s[4] = 2;                                                     // ELFCLASS64
        s[5] = 1;                                                     // little endian
        s[6] = 1;                                                     // EV_CURRENT
        BinaryPrimitives.WriteUInt16LittleEndian(s[16..], 2);         // ET_EXEC
        BinaryPrimitives.WriteUInt16LittleEndian(s[18..], 62);        // EM_X86_64
        BinaryPrimitives.WriteUInt32LittleEndian(s[20..], 1);         // e_version
        BinaryPrimitives.WriteUInt64LittleEndian(s[24..], baseVa + ehSize + phSize); // e_entry
        BinaryPrimitives.WriteUInt64LittleEndian(s[32..], ehSize);    // e_phoff
        BinaryPrimitives.WriteUInt64LittleEndian(s[40..], 0);         // e_shoff
        BinaryPrimitives.WriteUInt16LittleEndian(s[52..], ehSize);    // e_ehsize
        BinaryPrimitives.WriteUInt16LittleEndian(s[54..], phSize);    // e_phentsize
        BinaryPrimitives.WriteUInt16LittleEndian(s[56..], 1);         // e_phnum
        BinaryPrimitives.WriteUInt16LittleEndian(s[58..], 64);        // e_shentsize
        BinaryPrimitives.WriteUInt16LittleEndian(s[60..], 0);         // e_shnum

        // PT_LOAD R-X covering the whole file
        Span<byte> ph = s[ehSize..];
        BinaryPrimitives.WriteUInt32LittleEndian(ph, 1);              // PT_LOAD
        BinaryPrimitives.WriteUInt32LittleEndian(ph[4..], 5);         // PF_R | PF_X
        BinaryPrimitives.WriteUInt64LittleEndian(ph[8..], 0);         // p_offset
        BinaryPrimitives.WriteUInt64LittleEndian(ph[16..], baseVa);   // p_vaddr
        BinaryPrimitives.WriteUInt64LittleEndian(ph[24..], baseVa);   // p_paddr
        BinaryPrimitives.WriteUInt64LittleEndian(ph[32..], (ulong)f.Length); // p_filesz
        BinaryPrimitives.WriteUInt64LittleEndian(ph[40..], (ulong)f.Length); // p_memsz
        BinaryPrimitives.WriteUInt64LittleEndian(ph[48..], 0x1000);   // p_align

        code.CopyTo(s[(ehSize + phSize)..]);
        return f;
    }
}
