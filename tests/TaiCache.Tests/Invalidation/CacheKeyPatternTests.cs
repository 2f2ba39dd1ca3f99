using System.Diagnostics;
using System.Text.RegularExpressions;
using TaiCache.Invalidation;

namespace TaiCache.Tests.Invalidation;

public sealed class CacheKeyPatternTests
{
    [Theory]
    [InlineData("user:*", "user:42", true)]
    [InlineData("user:*", "users:42", false)]
    [InlineData("user:?2", "user:42", true)]
    [InlineData("user:?2", "user:442", false)]
    [InlineData("user:[0-9]*", "user:7:profile", true)]
    [InlineData("user:[^0-9]*", "user:7:profile", false)]
    [InlineData("user:[ab]", "user:b", true)]
    [InlineData("*:profile", "user:1:profile", true)]
    [InlineData("a*b*c", "aXXbYYc", true)]
    [InlineData("a*b*c", "aXXbYY", false)]
    [InlineData("a\\*", "a*", true)]
    [InlineData("a\\*", "ab", false)]
    [InlineData("", "", true)]
    public void GlobMatcher_RedisDialect_MatchesLikeScan(string glob, string key, bool expected) =>
        Assert.Equal(expected, GlobMatcher.IsMatch(glob, key));

    [Theory]
    [InlineData("a*")]
    [InlineData("x[")]
    [InlineData("?]\\^-")]
    public void SafeGlob_UserInputWithGlobCharacters_MatchesOnlyLiterally(string userInput)
    {
        var pattern = CacheKeyPattern.SafeGlob($"tenant:{userInput}:*");

        Assert.True(pattern.IsMatch($"tenant:{userInput}:profile"));
        Assert.False(pattern.IsMatch("tenant:ab:profile"));
        Assert.False(pattern.IsMatch("tenant:x1:profile"));
        Assert.False(pattern.IsMatch("tenant:other:profile"));
        Assert.True(CacheKeyPattern.Prefix($"tenant:{userInput}:").IsMatch($"tenant:{userInput}:x"));
        Assert.False(CacheKeyPattern.Prefix($"tenant:{userInput}:").IsMatch("tenant:a:x"));
    }

    [Theory]
    [InlineData("[")]
    [InlineData("user:[0-9")]
    [InlineData("user:[^a")]
    [InlineData("user:[ab\\]")]
    [InlineData("ok:[a]:[")]
    public void Glob_UnclosedClass_IsRefusedNamingTheProblem(string glob)
    {
        var ex = Assert.Throws<ArgumentException>(() => CacheKeyPattern.Glob(glob));
        Assert.Equal("glob", ex.ParamName);
        Assert.Contains("is not closed", ex.Message, StringComparison.Ordinal);
        Assert.Contains($"index {glob.LastIndexOf('[')}", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("[a]")]
    [InlineData("[]")]
    [InlineData("[^]")]
    [InlineData("x\\[")]
    [InlineData("[\\]]")]
    [InlineData("a]")]
    public void Glob_ClosedOrEscapedClass_IsAccepted(string glob) =>
        Assert.Equal(glob, CacheKeyPattern.Glob(glob).Pattern);

    [Fact]
    public void Glob_MoreStarsThanTheRedisTierAllows_IsRefusedUpFront()
    {
        var atLimit = string.Join(':', Enumerable.Repeat("*", TaiCache.Redis.RedisCache.MaxPatternWildcards));
        Assert.True(CacheKeyPattern.Glob(atLimit).IsMatch(new string(':', TaiCache.Redis.RedisCache.MaxPatternWildcards - 1)));

        var ex = Assert.Throws<ArgumentException>(() => CacheKeyPattern.Glob(atLimit + ":*"));
        Assert.Equal("glob", ex.ParamName);
        Assert.Contains($"more than {TaiCache.Redis.RedisCache.MaxPatternWildcards} '*'", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("Redis glob", ex.Message, StringComparison.Ordinal);
        // Escaped stars are literals, not wildcards: a prefix of many of them is taken, and matches only itself.
        var stars = new string('*', TaiCache.Redis.RedisCache.MaxPatternWildcards + 4);
        var literal = CacheKeyPattern.Prefix(stars);
        Assert.True(literal.IsMatch(stars + "tail"));
        Assert.False(literal.IsMatch("x" + stars));
    }

    [Fact]
    public void Glob_Unescaped_IsAWildcard()
    {
        // The contrast that makes the escaping tests meaningful: concatenated input widens the match.
        Assert.True(CacheKeyPattern.Glob("tenant:a*:*").IsMatch("tenant:ab:profile"));
    }

    [Fact]
    public void Regex_Catastrophic_TimesOutWithClearError()
    {
        var pattern = CacheKeyPattern.Regex("^(a+)+$", TimeSpan.FromMilliseconds(50));
        var key = new string('a', 40) + "!";

        var watch = Stopwatch.StartNew();
        var ex = Assert.Throws<CachePatternTimeoutException>(() => pattern.IsMatch(key));
        watch.Stop();

        Assert.Contains("did not finish matching", ex.Message);
        Assert.Contains("NonBacktracking", ex.Message);
        Assert.DoesNotContain(key, ex.Message);
        Assert.IsType<RegexMatchTimeoutException>(ex.InnerException);
        Assert.Equal(key, ex.Key);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(20), $"took {watch.Elapsed}");
    }

    [Fact]
    public void Regex_NonBacktracking_CatastrophicShapeIsLinear()
    {
        var pattern = CacheKeyPattern.Regex("^(a+)+$", TimeSpan.FromSeconds(5), RegexOptions.NonBacktracking);
        Assert.False(pattern.IsMatch(new string('a', 5_000) + "!"));
        Assert.True(pattern.IsMatch("aaaa"));
    }

    [Fact]
    public void Regex_WithoutTimeout_IsRefused()
    {
        Assert.Throws<ArgumentException>(() => CacheKeyPattern.Regex(new Regex("^(a+)+$")));
        Assert.Throws<ArgumentOutOfRangeException>(() => CacheKeyPattern.Regex("a", Timeout.InfiniteTimeSpan));
        Assert.True(CacheKeyPattern.Regex(new Regex("^a", RegexOptions.None, TimeSpan.FromSeconds(1))).IsMatch("ab"));
    }

    [Theory]
    [InlineData("^user:42:.*", "user:42:*")]
    [InlineData("^user:4?", "user:*")]
    [InlineData("^a|^b", "*")]
    [InlineData("user", "*")]
    public void Regex_ServerGlob_IsASafePrefix(string regex, string expected) =>
        Assert.Equal(expected, CacheKeyPattern.Regex(regex).ServerGlob);
}
