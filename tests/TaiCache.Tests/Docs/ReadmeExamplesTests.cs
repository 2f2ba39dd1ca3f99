using System.Text.RegularExpressions;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace TaiCache.Tests.Docs;

/// <summary>Keeps the README honest: every <c>csharp</c> block in it compiles against this build of TaiCache.</summary>
public sealed partial class ReadmeExamplesTests
{
    public static TheoryData<int> Blocks()
    {
        var data = new TheoryData<int>();
        for (var i = 0; i < ExtractBlocks().Count; i++)
        {
            data.Add(i);
        }

        return data;
    }

    [Fact]
    public void Readme_HasCSharpExamples()
    {
        Assert.NotEmpty(ExtractBlocks());
    }

    [Theory]
    [MemberData(nameof(Blocks))]
    public void ReadmeBlock_Compiles(int index)
    {
        var code = ExtractBlocks()[index];
        const string implicitUsings = "global using System; global using System.IO; global using System.Linq; global using System.Collections.Generic; global using System.Threading; global using System.Threading.Tasks;";
        var compilation = CSharpCompilation.Create(
            $"ReadmeBlock{index}",
            [CSharpSyntaxTree.ParseText(implicitUsings), CSharpSyntaxTree.ParseText(code, new CSharpParseOptions(LanguageVersion.Latest))],
            References(),
            new CSharpCompilationOptions(OutputKind.ConsoleApplication, nullableContextOptions: NullableContextOptions.Enable));
        var errors = compilation.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error).Select(d => d.ToString()).ToList();
        Assert.True(errors.Count == 0, $"README block {index} does not compile:\n{string.Join('\n', errors)}\n---\n{code}");
    }

    private static List<string> ExtractBlocks()
    {
        var readme = File.ReadAllText(Path.Combine(RepositoryRoot(), "README.md"));
        return CSharpBlock().Matches(readme).Select(m => m.Groups[1].Value).ToList();
    }

    private static string RepositoryRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "TaiCache.sln")))
        {
            dir = dir.Parent;
        }

        return dir?.FullName ?? throw new InvalidOperationException("TaiCache.sln not found above the test folder.");
    }

    private static IEnumerable<MetadataReference> References()
    {
        var trusted = ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator);
        var local = Directory.GetFiles(AppContext.BaseDirectory, "*.dll");
        return trusted.Concat(local)
            .GroupBy(Path.GetFileName, StringComparer.OrdinalIgnoreCase)
            .Select(g => g.First())
            .Select(p => MetadataReference.CreateFromFile(p));
    }

    [GeneratedRegex("```csharp\\n(.*?)```", RegexOptions.Singleline)]
    private static partial Regex CSharpBlock();
}
