using System.Runtime.CompilerServices;
using System.Text;

namespace TaiCache;

/// <summary>
/// The one place keys are checked. Every backend calls it before anything reaches a server, so a bad key fails the
/// same way everywhere: <see cref="ArgumentNullException"/> for <see langword="null"/>, <see cref="InvalidCacheKeyException"/>
/// for the rest.
/// </summary>
internal static class CacheKeyRules
{
    /// <summary>The default longest key, in UTF-8 bytes, for backends without a tighter limit.</summary>
    public const int DefaultMaxKeyBytes = 1024;

    /// <summary>Checks a key; throws when it breaks a rule.</summary>
    /// <param name="key">The key.</param>
    /// <param name="maxBytes">The longest key allowed, in UTF-8 bytes.</param>
    /// <param name="allowSpaces">Whether spaces are allowed (memcached's text protocol forbids them).</param>
    /// <param name="paramName">The caller's parameter name.</param>
    /// <param name="limitNote">Where <paramref name="maxBytes"/> comes from, for the message of a key that is too long (null: not said).</param>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Validate(string key, int maxBytes = DefaultMaxKeyBytes, bool allowSpaces = true, [CallerArgumentExpression(nameof(key))] string? paramName = null, string? limitNote = null)
    {
        if (key is null)
        {
            ThrowNull(paramName);
        }

        // Fast path: short printable ASCII keys are by far the most common, and are valid when non-blank.
        if (key.Length != 0 && key.Length <= maxBytes)
        {
            var ok = false;
            foreach (var c in key)
            {
                if (c <= ' ' || c >= 0x7F)
                {
                    ok = false;
                    break;
                }

                ok = true;
            }

            if (ok)
            {
                return;
            }
        }

        ValidateSlow(key, maxBytes, allowSpaces, limitNote: limitNote);
    }

    /// <summary>Checks every key of a batch before anything is sent.</summary>
    /// <param name="keys">The keys.</param>
    /// <param name="maxBytes">The longest key allowed, in UTF-8 bytes.</param>
    /// <param name="allowSpaces">Whether spaces are allowed.</param>
    /// <param name="limitNote">Where <paramref name="maxBytes"/> comes from (see <see cref="Validate"/>).</param>
    /// <returns>The keys, materialized and de-duplicated in their first order.</returns>
    public static List<string> ValidateAll(IEnumerable<string> keys, int maxBytes = DefaultMaxKeyBytes, bool allowSpaces = true, string? limitNote = null) =>
        Distinct(ValidateEach(keys, maxBytes, allowSpaces, limitNote));

    /// <summary>The keys without repeats, in their first order; the list itself when it has none.</summary>
    /// <param name="keys">The keys.</param>
    /// <returns>The distinct keys.</returns>
    public static List<string> Distinct(List<string> keys)
    {
        var seen = new HashSet<string>(keys.Count, StringComparer.Ordinal);
        var distinct = new List<string>(keys.Count);
        foreach (var key in keys)
        {
            if (seen.Add(key))
            {
                distinct.Add(key);
            }
        }

        return distinct.Count == keys.Count ? keys : distinct;
    }

    /// <summary>
    /// Checks every key of a batch read before anything is sent, keeping duplicates: reads answer with a dictionary, so
    /// a key asked twice costs one more key on the wire and no hash set for every batch.
    /// </summary>
    /// <param name="keys">The keys.</param>
    /// <param name="maxBytes">The longest key allowed, in UTF-8 bytes.</param>
    /// <param name="allowSpaces">Whether spaces are allowed.</param>
    /// <param name="limitNote">Where <paramref name="maxBytes"/> comes from (see <see cref="Validate"/>).</param>
    /// <returns>The keys, materialized in their order.</returns>
    public static List<string> ValidateEach(IEnumerable<string> keys, int maxBytes = DefaultMaxKeyBytes, bool allowSpaces = true, string? limitNote = null)
    {
        ArgumentNullException.ThrowIfNull(keys);
        var list = keys is IReadOnlyCollection<string> sized ? new List<string>(sized.Count) : [];
        foreach (var key in keys)
        {
            Validate(key, maxBytes, allowSpaces, nameof(keys), limitNote);
            list.Add(key);
        }

        return list;
    }

    /// <summary>
    /// Checks a tag: the key rules (tags end up in keys, e.g. Redis tag sets), worded for tags and naming the tag
    /// parameter. <see cref="ArgumentNullException"/> for <see langword="null"/>, <see cref="InvalidCacheKeyException"/>
    /// for the rest, as for keys.
    /// </summary>
    /// <param name="tag">The tag.</param>
    /// <param name="paramName">The caller's parameter name.</param>
    public static void ValidateTag(string tag, [CallerArgumentExpression(nameof(tag))] string? paramName = null)
    {
        if (tag is null)
        {
            throw new ArgumentNullException(paramName, "A tag must not be null.");
        }

        if (!IsPlainAscii(tag))
        {
            ValidateSlow(tag, DefaultMaxKeyBytes, allowSpaces: true, TagNoun);
        }
    }

    /// <summary>Checks every tag of a collection before anything is recorded.</summary>
    /// <param name="tags">The tags.</param>
    /// <param name="paramName">The caller's parameter name.</param>
    /// <returns>The tags, materialized and de-duplicated in their first order.</returns>
    public static List<string> ValidateTags(IEnumerable<string> tags, [CallerArgumentExpression(nameof(tags))] string? paramName = null)
    {
        ArgumentNullException.ThrowIfNull(tags, paramName);
        var list = tags is IReadOnlyCollection<string> sized ? new List<string>(sized.Count) : [];
        foreach (var tag in tags)
        {
            if (tag is null)
            {
                throw new ArgumentNullException(paramName, "A tag must not be null.");
            }

            if (!IsPlainAscii(tag))
            {
                ValidateSlow(tag, DefaultMaxKeyBytes, allowSpaces: true, TagNoun);
            }

            list.Add(tag);
        }

        return Distinct(list);
    }

    /// <summary>Checks a time to live: <see langword="null"/> passes, zero, negative and infinite do not.</summary>
    /// <param name="ttl">The time to live.</param>
    /// <param name="paramName">The caller's parameter name.</param>
    public static void ValidateTtl(TimeSpan? ttl, [CallerArgumentExpression(nameof(ttl))] string? paramName = null)
    {
        if (ttl is { } t && (t <= TimeSpan.Zero || t == Timeout.InfiniteTimeSpan))
        {
            throw new ArgumentOutOfRangeException(paramName, t, "A time to live must be positive; pass null for the cache's default expiry.");
        }
    }

    /// <summary>
    /// Checks a Redis hash field: no control characters or unpaired surrogates, at most <paramref name="maxBytes"/>
    /// UTF-8 bytes, worded for a field. Empty and blank fields are allowed, as Redis allows them.
    /// </summary>
    /// <param name="field">The field.</param>
    /// <param name="maxBytes">The longest field allowed, in UTF-8 bytes.</param>
    /// <param name="paramName">The caller's parameter name.</param>
    public static void ValidateField(string field, int maxBytes, [CallerArgumentExpression(nameof(field))] string? paramName = null)
    {
        if (field is null)
        {
            throw new ArgumentNullException(paramName, "A hash field must not be null.");
        }

        if (field.Length != 0)
        {
            ValidateSlow(field, maxBytes, allowSpaces: true, FieldNoun);
        }
    }

    private const string KeyNoun = "cache key";
    private const string TagNoun = "tag";
    private const string FieldNoun = "hash field";

    /// <summary>The key rules, with messages worded for <paramref name="noun"/> (a key, a tag or a hash field; the rules are the same, except that a field may be blank).</summary>
    private static void ValidateSlow(string key, int maxBytes, bool allowSpaces, string noun = KeyNoun, string? limitNote = null)
    {
        var plural = noun == KeyNoun ? "keys" : noun + "s";
        if (key.Length == 0)
        {
            throw new InvalidCacheKeyException($"A {noun} must not be empty.", key);
        }

        var allWhite = true;
        for (var i = 0; i < key.Length; i++)
        {
            var c = key[i];
            if (char.IsHighSurrogate(c))
            {
                if (i + 1 >= key.Length || !char.IsLowSurrogate(key[i + 1]))
                {
                    throw new InvalidCacheKeyException($"The {Describe(key, noun)} holds an unpaired UTF-16 surrogate at index {i}; {plural} must be valid Unicode.", key);
                }

                i++;
                allWhite = false;
                continue;
            }

            if (char.IsLowSurrogate(c))
            {
                throw new InvalidCacheKeyException($"The {Describe(key, noun)} holds an unpaired UTF-16 surrogate at index {i}; {plural} must be valid Unicode.", key);
            }

            if (char.IsControl(c))
            {
                throw new InvalidCacheKeyException($"The {Describe(key, noun)} holds a control character (U+{(int)c:X4}) at index {i}; {plural} must not contain control characters such as CR or LF.", key);
            }

            if (c == ' ' && !allowSpaces)
            {
                throw new InvalidCacheKeyException($"The {Describe(key, noun)} holds a space at index {i}; this backend does not allow spaces in {plural}.", key);
            }

            if (!char.IsWhiteSpace(c))
            {
                allWhite = false;
            }
        }

        if (allWhite && noun != FieldNoun)
        {
            throw new InvalidCacheKeyException($"A {noun} must not be whitespace only.", key);
        }

        var bytes = Encoding.UTF8.GetByteCount(key);
        if (bytes > maxBytes)
        {
            throw new InvalidCacheKeyException($"The {Describe(key, noun)} is {bytes} UTF-8 bytes long; the limit is {maxBytes}{(limitNote is null ? string.Empty : " (" + limitNote + ")")}.", key);
        }
    }

    /// <summary>The tags' fast path: non-empty printable ASCII without spaces, within the default length, is valid.</summary>
    private static bool IsPlainAscii(string value)
    {
        if (value.Length == 0 || value.Length > DefaultMaxKeyBytes)
        {
            return false;
        }

        foreach (var c in value)
        {
            if (c <= ' ' || c >= 0x7F)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>"cache key 'k'" / "cache key#hash" for a key, "tag 't'" / "tag#hash" for a tag (hashed unless keys may appear in messages).</summary>
    private static string Describe(string value, string noun)
    {
        var described = TaiCacheDiagnostics.DescribeKey(value);
        return noun == KeyNoun ? "cache " + described : noun + described["key".Length..];
    }

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    private static void ThrowNull(string? paramName) => throw new ArgumentNullException(paramName, "A cache key must not be null.");
}
