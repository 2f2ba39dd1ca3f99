using System.Text.RegularExpressions;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace TaiCache.Tests.Docs;

/// <summary>
/// Keeps the README and the docs honest: every <c>csharp</c> block of the README, and every block of a page under docs/
/// that follows a <c>&lt;!-- compiled --&gt;</c> line (a whole program; the others are fragments), compiles against this
/// build of TaiCache, as an assembly that sees only TaiCache's public API.
/// </summary>
public sealed partial class ReadmeExamplesTests
{
    public static TheoryData<string, int> Blocks()
    {
        var data = new TheoryData<string, int>();
        foreach (var file in Documents())
        {
            for (var i = 0; i < ExtractBlocks(file).Count; i++)
            {
                data.Add(file, i);
            }
        }

        return data;
    }

    [Fact]
    public void Readme_HasCSharpExamples()
    {
        Assert.NotEmpty(ExtractBlocks("README.md"));
        Assert.True(Documents().Where(d => d != "README.md").Sum(d => ExtractBlocks(d).Count) >= 4, "the docs' compiled examples are not found");
    }

    [Theory]
    [MemberData(nameof(Blocks))]
    public void DocumentBlock_Compiles(string file, int index)
    {
        var code = ExtractBlocks(file)[index];
        const string implicitUsings = "global using System; global using System.IO; global using System.Linq; global using System.Collections.Generic; global using System.Threading; global using System.Threading.Tasks;";
        var compilation = CSharpCompilation.Create(
            $"DocumentBlock{index}",
            [CSharpSyntaxTree.ParseText(implicitUsings), CSharpSyntaxTree.ParseText(code, new CSharpParseOptions(LanguageVersion.Latest))],
            References(),
            new CSharpCompilationOptions(OutputKind.ConsoleApplication, nullableContextOptions: NullableContextOptions.Enable));
        var errors = compilation.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error).Select(d => d.ToString()).ToList();
        Assert.True(errors.Count == 0, $"{file} block {index} does not compile:\n{string.Join('\n', errors)}\n---\n{code}");
    }

    /// <summary>The README and every page under docs/, as paths relative to the repository's root.</summary>
    private static List<string> Documents()
    {
        var root = RepositoryRoot();
        var docs = Directory.GetFiles(Path.Combine(root, "docs"), "*.md", SearchOption.AllDirectories)
            .Select(p => Path.GetRelativePath(root, p).Replace('\\', '/'))
            .Order(StringComparer.Ordinal);
        return ["README.md", .. docs];
    }

    private static List<string> ExtractBlocks(string file)
    {
        var text = File.ReadAllText(Path.Combine(RepositoryRoot(), file)).ReplaceLineEndings("\n");
        var blocks = file == "README.md" ? CSharpBlock().Matches(text) : CompiledBlock().Matches(text);
        return blocks.Select(m => m.Groups[1].Value).ToList();
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

    [GeneratedRegex("^<!-- compiled -->\\n```csharp\\n(.*?)```", RegexOptions.Singleline | RegexOptions.Multiline)]
    private static partial Regex CompiledBlock();
}
