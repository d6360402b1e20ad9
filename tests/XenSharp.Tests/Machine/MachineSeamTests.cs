using System.Reflection;
using System.Text.RegularExpressions;
using XenSharp.Hypervisor;
using Xunit;

namespace XenSharp.Tests.Machine;

/// <summary>
/// The machine seam: XenSharp.Kvm is named only under src/XenSharp.Hypervisor/Machine/ — in the sources, and in the
/// compiled core's signatures (fields, properties, method parameters and results, base types) outside the Machine
/// namespace — so a second machine backend needs no change above it.
/// </summary>
public sealed partial class MachineSeamTests
{
    [Fact]
    public void NoSourceOutsideMachineNamesXenSharpKvm()
    {
        string root = Path.Combine(RepoRoot, "src", "XenSharp.Hypervisor");
        string machine = Path.Combine(root, "Machine") + Path.DirectorySeparatorChar;
        string[] offenders = Directory.EnumerateFiles(root, "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.StartsWith(machine, StringComparison.Ordinal))
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            .Where(f => KvmNamespace().IsMatch(File.ReadAllText(f)))
            .Select(f => Path.GetRelativePath(RepoRoot, f))
            .ToArray();
        Assert.True(Directory.Exists(machine), $"no {machine}");
        Assert.Empty(offenders);
    }

    [Fact]
    public void NoCoreTypeOutsideMachineHasAKvmTypeInItsSignatures()
    {
        Assembly core = typeof(XenHypervisor).Assembly;
        const BindingFlags all = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;
        var offenders = new List<string>();
        foreach (Type t in core.GetTypes().Where(t => t.Namespace != "XenSharp.Hypervisor.Machine"))
        {
            IEnumerable<(string What, Type Type)> used =
                t.GetFields(all).Select(f => ($"field {f.Name}", f.FieldType))
                .Concat(t.GetProperties(all).Select(p => ($"property {p.Name}", p.PropertyType)))
                .Concat(t.GetMethods(all).SelectMany(m => m.GetParameters().Select(p => ($"method {m.Name}", p.ParameterType))
                    .Append(($"method {m.Name}", m.ReturnType))))
                .Concat(t.GetConstructors(all).SelectMany(c => c.GetParameters().Select(p => ("constructor", p.ParameterType))))
                .Concat(t.GetInterfaces().Select(i => ("interface", i)))
                .Concat(t.BaseType is { } b ? [("base", b)] : []);
            foreach ((string what, Type type) in used)
            {
                if (IsKvm(type))
                {
                    offenders.Add($"{t.FullName}: {what} uses {type.FullName}");
                }
            }
        }

        Assert.Empty(offenders);
    }

    private static bool IsKvm(Type t)
    {
        while (t.HasElementType)
        {
            t = t.GetElementType()!;
        }

        return t.Assembly.GetName().Name == "XenSharp.Kvm" || (t.IsGenericType && t.GetGenericArguments().Any(IsKvm));
    }

    [GeneratedRegex(@"\bXenSharp\.Kvm\b")]
    private static partial Regex KvmNamespace();

    /// <summary>The directory that holds XenSharp.slnx, above this assembly's.</summary>
    private static string RepoRoot
    {
        get
        {
            for (DirectoryInfo? d = new(AppContext.BaseDirectory); d is not null; d = d.Parent)
            {
                if (File.Exists(Path.Combine(d.FullName, "XenSharp.slnx")))
                {
                    return d.FullName;
                }
            }

            throw new DirectoryNotFoundException($"no directory above {AppContext.BaseDirectory} holds XenSharp.slnx");
        }
    }
}
