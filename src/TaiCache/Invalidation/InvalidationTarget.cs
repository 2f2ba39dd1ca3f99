namespace TaiCache.Invalidation;

/// <summary>What a named event invalidates when raised: a key, a tag or a pattern (see <see cref="InvalidationManager.MapEvent(string, InvalidationTarget[])"/>).</summary>
public sealed class InvalidationTarget
{
    private InvalidationTarget(InvalidationTrigger kind, string? value, CacheKeyPattern? pattern)
    {
        Kind = kind;
        Value = value ?? pattern!.Pattern;
        Pattern = pattern;
    }

    /// <summary>Gets the kind of target: <see cref="InvalidationTrigger.Key"/>, <see cref="InvalidationTrigger.Tag"/> or <see cref="InvalidationTrigger.Pattern"/>.</summary>
    public InvalidationTrigger Kind { get; }

    /// <summary>Gets the key, tag, or pattern text.</summary>
    public string Value { get; }

    /// <summary>Gets the pattern of a <see cref="InvalidationTrigger.Pattern"/> target.</summary>
    public CacheKeyPattern? Pattern { get; }

    /// <summary>Targets one key (and its dependents).</summary>
    /// <param name="key">The key.</param>
    /// <returns>The target.</returns>
    public static InvalidationTarget ForKey(string key)
    {
        CacheKeyRules.Validate(key);
        return new InvalidationTarget(InvalidationTrigger.Key, key, null);
    }

    /// <summary>Targets every key carrying a tag.</summary>
    /// <param name="tag">The tag.</param>
    /// <returns>The target.</returns>
    public static InvalidationTarget ForTag(string tag)
    {
        CacheKeyRules.ValidateTag(tag);
        return new InvalidationTarget(InvalidationTrigger.Tag, tag, null);
    }

    /// <summary>Targets every key a pattern selects.</summary>
    /// <param name="pattern">The pattern.</param>
    /// <returns>The target.</returns>
    public static InvalidationTarget ForPattern(CacheKeyPattern pattern)
    {
        ArgumentNullException.ThrowIfNull(pattern);
        return new InvalidationTarget(InvalidationTrigger.Pattern, null, pattern);
    }

    /// <inheritdoc />
    public override string ToString() => $"{Kind}:{(Kind == InvalidationTrigger.Pattern ? Value : TaiCacheDiagnostics.DescribeKey(Value))}";
}
