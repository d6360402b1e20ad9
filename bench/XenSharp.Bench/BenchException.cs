namespace XenSharp.Bench;

/// <summary>A measurement could not be taken (a guest misbehaved, a tool is missing): the run stops with this message.</summary>
public sealed class BenchException : Exception
{
    public BenchException(string message)
        : base(message)
    {
    }
}
