using System.Globalization;
using System.Text.RegularExpressions;

namespace TaiCache.Invalidation;

/// <summary>
/// A set of keys selected by a glob (Redis <c>SCAN MATCH</c> dialect) or a regular expression, for pattern
/// invalidation. Build globs from user input with <see cref="SafeGlob(FormattableString)"/>, <see cref="Prefix(string)"/>
/// or <see cref="EscapeGlob(string)"/> so <c>*</c>, <c>?</c>, <c>[</c> in the input match only themselves.
/// </summary>
/// <remarks>
/// Regular expressions always run with a match timeout (or <see cref="RegexOptions.NonBacktracking"/>), so a
/// catastrophic pattern such as <c>(a+)+$</c> cannot hang a thread: a timeout throws
/// <see cref="CachePatternTimeoutException"/>.
/// </remarks>
public sealed class CacheKeyPattern
{
    /// <summary>The match timeout used when a regular expression is given without one: 250 ms.</summary>
    public static readonly TimeSpan DefaultRegexTimeout = TimeSpan.FromMilliseconds(250);

    private readonly Regex? _regex;

    private CacheKeyPattern(string pattern, Regex? regex)
    {
        Pattern = pattern;
        _regex = regex;
        ServerGlob = regex is null
            ? pattern
            : (regex.Options & (RegexOptions.IgnoreCase | RegexOptions.IgnorePatternWhitespace)) != 0 ? "*" : GlobMatcher.Escape(LiteralRegexPrefix(pattern)) + "*"; // whitespace and # (a comment) are not literal then
    }

    /// <summary>Gets the pattern text as given (glob or regular expression).</summary>
    public string Pattern { get; }

    /// <summary>Gets a value indicating whether the pattern is a regular expression (else a glob).</summary>
    public bool IsRegex => _regex is not null;

    /// <summary>Gets the glob sent to a server's key scan: the pattern itself, or for a regex a prefix glob that is then filtered.</summary>
    internal string ServerGlob { get; }

    /// <summary>Creates a pattern from a trusted glob: <c>*</c>, <c>?</c>, <c>[...]</c> and <c>\</c> keep their meaning.</summary>
    /// <param name="glob">The glob, for example <c>user:42:*</c>. Never build it by concatenating user input: use <see cref="SafeGlob(FormattableString)"/>.</param>
    /// <returns>The pattern.</returns>
    /// <exception cref="ArgumentException">
    /// The glob is empty, has a <c>[</c> class without its <c>]</c>, or holds more than
    /// <see cref="Redis.RedisCache.MaxPatternWildcards"/> <c>*</c> wildcards (an escaped <c>\*</c> is a literal, not counted; as on the Redis tier).
    /// </exception>
    public static CacheKeyPattern Glob(string glob)
    {
        ArgumentException.ThrowIfNullOrEmpty(glob);
        GlobMatcher.Validate(glob, nameof(glob));
        return new CacheKeyPattern(glob, null);
    }

    /// <summary>
    /// Creates a glob from an interpolated string whose literal parts are trusted glob text and whose holes are
    /// escaped: <c>SafeGlob($"tenant:{tenantId}:*")</c> with <c>tenantId = "a*"</c> matches only keys under
    /// <c>tenant:a*:</c>, never <c>tenant:ab:</c>.
    /// </summary>
    /// <param name="glob">The interpolated glob.</param>
    /// <returns>The pattern.</returns>
    public static CacheKeyPattern SafeGlob(FormattableString glob)
    {
        ArgumentNullException.ThrowIfNull(glob);
        return Glob(glob.ToString(EscapingFormatter.Instance));
    }

    /// <summary>Formats each hole of a <see cref="SafeGlob"/> as usual (its format specifier applied, invariant culture), then escapes it.</summary>
    private sealed class EscapingFormatter : IFormatProvider, ICustomFormatter
    {
        public static readonly EscapingFormatter Instance = new();

        public object? GetFormat(Type? formatType) => formatType == typeof(ICustomFormatter) ? this : null;

        public string Format(string? format, object? arg, IFormatProvider? formatProvider)
        {
            var text = arg switch
            {
                null => string.Empty,
                IFormattable formattable => formattable.ToString(format, CultureInfo.InvariantCulture),
                _ => Convert.ToString(arg, CultureInfo.InvariantCulture) ?? string.Empty,
            };
            return GlobMatcher.Escape(text);
        }
    }

    /// <summary>Creates a pattern matching every key that starts with a literal prefix (escaped, then <c>*</c>).</summary>
    /// <param name="literalPrefix">The prefix, taken literally (it may come from user input).</param>
    /// <returns>The pattern.</returns>
    public static CacheKeyPattern Prefix(string literalPrefix)
    {
        ArgumentException.ThrowIfNullOrEmpty(literalPrefix);
        return Glob(GlobMatcher.Escape(literalPrefix) + "*");
    }

    /// <summary>Escapes text so that, inside a glob, every character of it matches only itself.</summary>
    /// <param name="literal">The text.</param>
    /// <returns>The escaped text.</returns>
    public static string EscapeGlob(string literal) => GlobMatcher.Escape(literal);

    /// <summary>Creates a pattern from a regular expression, matched with a timeout.</summary>
    /// <param name="pattern">The regular expression.</param>
    /// <param name="matchTimeout">The longest one key's match may take; <see langword="null"/> for <see cref="DefaultRegexTimeout"/>.</param>
    /// <param name="options">Regex options; <see cref="RegexOptions.NonBacktracking"/> guarantees linear time.</param>
    /// <returns>The pattern.</returns>
    /// <exception cref="ArgumentException">The expression is invalid.</exception>
    public static CacheKeyPattern Regex(string pattern, TimeSpan? matchTimeout = null, RegexOptions options = RegexOptions.None)
    {
        ArgumentException.ThrowIfNullOrEmpty(pattern);
        var timeout = matchTimeout ?? DefaultRegexTimeout;
        if (timeout <= TimeSpan.Zero || timeout == System.Text.RegularExpressions.Regex.InfiniteMatchTimeout)
        {
            throw new ArgumentOutOfRangeException(nameof(matchTimeout), timeout, "A key pattern's regex match timeout must be positive and finite, so a catastrophic pattern cannot hang a thread.");
        }

        return new CacheKeyPattern(pattern, new System.Text.RegularExpressions.Regex(pattern, options | RegexOptions.CultureInvariant, timeout));
    }

    /// <summary>Creates a pattern from a compiled regular expression, which must have a match timeout or use <see cref="RegexOptions.NonBacktracking"/>.</summary>
    /// <param name="regex">The expression.</param>
    /// <returns>The pattern.</returns>
    /// <exception cref="ArgumentException">The expression can backtrack without a time limit.</exception>
    public static CacheKeyPattern Regex(Regex regex)
    {
        ArgumentNullException.ThrowIfNull(regex);
        if (regex.MatchTimeout == System.Text.RegularExpressions.Regex.InfiniteMatchTimeout && (regex.Options & RegexOptions.NonBacktracking) == 0)
        {
            throw new ArgumentException("A key pattern's regex needs a match timeout or RegexOptions.NonBacktracking, so a catastrophic pattern such as (a+)+$ cannot hang a thread.", nameof(regex));
        }

        return new CacheKeyPattern(regex.ToString(), regex);
    }

    /// <summary>Tells whether a key is selected by the pattern.</summary>
    /// <param name="key">The key.</param>
    /// <returns><see langword="true"/> when the key matches.</returns>
    /// <exception cref="CachePatternTimeoutException">The regular expression took longer than its match timeout.</exception>
    public bool IsMatch(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (_regex is null)
        {
            return GlobMatcher.IsMatch(Pattern, key);
        }

        try
        {
            return _regex.IsMatch(key);
        }
        catch (RegexMatchTimeoutException ex)
        {
            throw new CachePatternTimeoutException(
                $"The key pattern's regular expression did not finish matching {TaiCacheDiagnostics.DescribeKey(key)} within {ex.MatchTimeout.TotalMilliseconds:0} ms, so the invalidation was stopped before removing anything. The expression probably backtracks catastrophically (like (a+)+$): simplify it, anchor it, or create it with RegexOptions.NonBacktracking.",
                key,
                ex);
        }
    }

    /// <inheritdoc />
    public override string ToString() => IsRegex ? $"regex:{Pattern}" : $"glob:{Pattern}";

    /// <summary>The literal text an anchored regex starts with (<c>^user:42:</c> gives <c>user:42:</c>), else empty.</summary>
    private static string LiteralRegexPrefix(string pattern)
    {
        if (pattern.Length == 0 || pattern[0] != '^' || pattern.Contains('|', StringComparison.Ordinal))
        {
            return string.Empty;
        }

        var end = 1;
        while (end < pattern.Length && (char.IsLetterOrDigit(pattern[end]) || pattern[end] is ':' or '_' or '-' or '/' or '@' or '#' or '=' or ',' or '!'))
        {
            end++;
        }

        // A quantifier right after the run applies to its last character, which is then not literal.
        if (end < pattern.Length && pattern[end] is '?' or '*' or '{')
        {
            end--;
        }

        return end > 1 ? pattern[1..end] : string.Empty;
    }
}
