namespace XenSharp.Toolstack.Image;

/// <summary>The compressions of a bzImage payload that libxc's bzimageloader decompresses, told apart by their magic.</summary>
internal enum PayloadCompression
{
    Gzip,
    Xz,
    Bzip2,
    Lzma,
    Lz4,
    Zstd,
}
