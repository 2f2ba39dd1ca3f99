using TaiCache.Redis;

namespace TaiCache.Invalidation;

/// <summary>
/// Matches keys against Redis-style glob patterns (<c>*</c>, <c>?</c>, <c>[abc]</c>, <c>[^a]</c>, <c>[a-z]</c>,
/// <c>\x</c>), the same dialect <c>SCAN MATCH</c> uses, so a pattern selects the same keys in L1 as on the server.
/// </summary>
/// <remarks>
/// Iterative, with backtracking only to the last <c>*</c>: O(pattern × key) in the worst case, never exponential.
/// </remarks>
internal static class GlobMatcher
{
    /// <summary>The characters that have a meaning in a glob and must be escaped to be taken literally.</summary>
    private static readonly System.Buffers.SearchValues<char> Special = System.Buffers.SearchValues.Create("*?[]\\^-");

    /// <summary>Escapes a literal so every character of it matches only itself.</summary>
    /// <param name="literal">The literal text (for example user input).</param>
    /// <returns>The escaped text.</returns>
    public static string Escape(string literal)
    {
        ArgumentNullException.ThrowIfNull(literal);
        if (literal.AsSpan().IndexOfAny(Special) < 0)
        {
            return literal;
        }

        var builder = new System.Text.StringBuilder(literal.Length + 8);
        foreach (var c in literal)
        {
            if (Special.Contains(c))
            {
                builder.Append('\\');
            }

            builder.Append(c);
        }

        return builder.ToString();
    }

    /// <summary>Counts a glob's <c>*</c> wildcards: an escaped one (<c>\*</c>) matches itself and is no wildcard.</summary>
    internal static int Wildcards(string pattern)
    {
        var stars = 0;
        for (var i = 0; i < pattern.Length; i++)
        {
            if (pattern[i] == '\\')
            {
                i++;
            }
            else if (pattern[i] == '*')
            {
                stars++;
            }
        }

        return stars;
    }

    /// <summary>A glob's length in UTF-8 bytes with its escapes taken off (<c>\?</c> counts as the one byte it matches).</summary>
    internal static int UnescapedByteCount(string pattern)
    {
        var bytes = System.Text.Encoding.UTF8.GetByteCount(pattern);
        for (var i = 0; i < pattern.Length; i++)
        {
            if (pattern[i] == '\\')
            {
                bytes--;
                i++;
            }
        }

        return bytes;
    }

    /// <summary>
    /// Checks a glob before it is used: every <c>[</c> class must be closed (an unclosed one runs to the end of the
    /// pattern and quietly matches almost nothing), and there may be at most <see cref="RedisCache.MaxPatternWildcards"/>
    /// <c>*</c> characters, counted as the Redis tier counts them (every <c>*</c>).
    /// </summary>
    /// <param name="pattern">The glob.</param>
    /// <param name="paramName">The caller's parameter name.</param>
    /// <exception cref="ArgumentException">The glob breaks a rule.</exception>
    public static void Validate(string pattern, string paramName)
    {
        if (Wildcards(pattern) > RedisCache.MaxPatternWildcards)
        {
            throw new ArgumentException($"The glob holds more than {RedisCache.MaxPatternWildcards} '*' wildcards (RedisCache.MaxPatternWildcards); glob matching slows down sharply with many of them.", paramName);
        }

        for (var i = 0; i < pattern.Length; i++)
        {
            if (pattern[i] == '\\')
            {
                i++;
                continue;
            }

            if (pattern[i] != '[')
            {
                continue;
            }

            var open = i;
            i++;
            while (i < pattern.Length && pattern[i] != ']')
            {
                i += pattern[i] == '\\' ? 2 : 1;
            }

            if (i >= pattern.Length)
            {
                throw new ArgumentException($"The glob's character class '[' at index {open} is not closed: add ']', or escape the '[' (\\[, or CacheKeyPattern.EscapeGlob) to match it literally.", paramName);
            }
        }
    }

    /// <summary>Returns the literal text before the first special character, unescaped.</summary>
    /// <param name="pattern">The glob.</param>
    /// <returns>The literal prefix every matching key starts with.</returns>
    public static string LiteralPrefix(string pattern)
    {
        var builder = new System.Text.StringBuilder();
        for (var i = 0; i < pattern.Length; i++)
        {
            var c = pattern[i];
            if (c == '\\' && i + 1 < pattern.Length)
            {
                builder.Append(pattern[++i]);
                continue;
            }

            if (c is '*' or '?' or '[')
            {
                break;
            }

            builder.Append(c);
        }

        return builder.ToString();
    }

    /// <summary>Tells whether a key matches a glob.</summary>
    /// <param name="pattern">The glob.</param>
    /// <param name="key">The key.</param>
    /// <returns><see langword="true"/> on a match.</returns>
    public static bool IsMatch(ReadOnlySpan<char> pattern, ReadOnlySpan<char> key)
    {
        var p = 0;
        var k = 0;
        var starP = -1;
        var starK = -1;
        while (k < key.Length)
        {
            if (p < pattern.Length)
            {
                var c = pattern[p];
                if (c == '*')
                {
                    while (p < pattern.Length && pattern[p] == '*')
                    {
                        p++;
                    }

                    if (p == pattern.Length)
                    {
                        return true;
                    }

                    starP = p;
                    starK = k;
                    continue;
                }

                if (MatchOne(pattern, ref p, key[k]))
                {
                    k++;
                    continue;
                }
            }

            if (starP < 0)
            {
                return false;
            }

            // Let the last star swallow one more character and retry from there.
            p = starP;
            k = ++starK;
        }

        while (p < pattern.Length && pattern[p] == '*')
        {
            p++;
        }

        return p == pattern.Length;
    }

    /// <summary>Matches one pattern token (not a star) against one character; advances past the token on success.</summary>
    private static bool MatchOne(ReadOnlySpan<char> pattern, ref int p, char c)
    {
        var token = pattern[p];
        switch (token)
        {
            case '?':
                p++;
                return true;
            case '\\' when p + 1 < pattern.Length:
                if (pattern[p + 1] == c)
                {
                    p += 2;
                    return true;
                }

                return false;
            case '[':
                return MatchClass(pattern, ref p, c);
            default:
                if (token == c)
                {
                    p++;
                    return true;
                }

                return false;
        }
    }

    private static bool MatchClass(ReadOnlySpan<char> pattern, ref int p, char c)
    {
        var i = p + 1;
        var negate = i < pattern.Length && pattern[i] == '^';
        if (negate)
        {
            i++;
        }

        var matched = false;
        while (i < pattern.Length && pattern[i] != ']')
        {
            if (pattern[i] == '\\' && i + 1 < pattern.Length)
            {
                i++;
                if (pattern[i] == c)
                {
                    matched = true;
                }

                i++;
            }
            else if (i + 2 < pattern.Length && pattern[i + 1] == '-' && pattern[i + 2] != ']')
            {
                var lo = pattern[i];
                var hi = pattern[i + 2];
                if (lo > hi)
                {
                    (lo, hi) = (hi, lo);
                }

                if (c >= lo && c <= hi)
                {
                    matched = true;
                }

                i += 3;
            }
            else
            {
                if (pattern[i] == c)
                {
                    matched = true;
                }

                i++;
            }
        }

        // Like Redis, an unterminated class runs to the end of the pattern.
        p = i < pattern.Length ? i + 1 : i;
        return matched != negate;
    }
}
