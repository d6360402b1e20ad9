using System.Globalization;

namespace XenSharp.Tests.Block;

/// <summary>One request of the crash stream: write <see cref="Number"/> of <see cref="Count"/> blocks at <see cref="Start"/>, or flush <see cref="Number"/>.</summary>
internal readonly record struct CrashOp(bool IsFlush, long Number, int Start, int Count)
{
    /// <summary>The write's id in the blocks it writes.</summary>
    public long Id => Number + 1;

    /// <summary>What the child prints when the backend acknowledged it.</summary>
    public string Line => string.Create(CultureInfo.InvariantCulture, $"{(IsFlush ? 'F' : 'W')} {Number}");

    public bool Covers(int slot) => !IsFlush && slot >= Start && slot < Start + Count;
}
