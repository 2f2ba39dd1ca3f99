using System.Diagnostics.CodeAnalysis;

namespace TaiCache;

/// <summary>The outcome of a cache read: a hit carrying a value (which may be <see langword="null"/> or a default), or a miss.</summary>
/// <typeparam name="T">The value's type.</typeparam>
public readonly struct CacheResult<T> : IEquatable<CacheResult<T>>
{
    private readonly T _value;

    /// <summary>Initializes a hit carrying <paramref name="value"/>.</summary>
    /// <param name="value">The value that was found.</param>
    public CacheResult(T value)
    {
        _value = value;
        HasValue = true;
    }

    /// <summary>Initializes a hit that expires at <paramref name="expiresAt"/> in the tier that returns it.</summary>
    /// <param name="value">The value that was found.</param>
    /// <param name="expiresAt">When the value expires in the tier that returns it. A tier of its own reports this so that
    /// <see cref="Tiering.MultiTierCache"/> keeps the copies it makes in the tiers above no longer than the value lives here.</param>
    public CacheResult(T value, DateTimeOffset expiresAt)
        : this(value, Math.Max(expiresAt.ToUnixTimeMilliseconds(), 1))
    {
    }

    /// <summary>Initializes a hit with the expiry its writer recorded (see <see cref="ExpiresAtUnixMs"/>).</summary>
    internal CacheResult(T value, long expiresAtUnixMs)
        : this(value)
    {
        ExpiresAtUnixMs = expiresAtUnixMs;
    }

    /// <summary>Gets a miss.</summary>
    public static CacheResult<T> Miss => default;

    /// <summary>Gets a value indicating whether the key was found.</summary>
    public bool HasValue { get; }

    /// <summary>When the value expires in the tier that returned it (Unix milliseconds, the writer's clock), or 0 when unknown or never.</summary>
    internal long ExpiresAtUnixMs { get; }

    /// <summary>
    /// Gets when the value expires in the tier that returned it, by the clock of whoever wrote it, or <see langword="null"/>
    /// when it never expires or the tier does not say. <see cref="Redis.RedisCache"/>, <see cref="Memcached.MemcachedCache"/>,
    /// <see cref="Sqlite.SqliteTier"/> and <see cref="InMemoryTier.GetAsync{T}"/> report it for TaiCache's own values;
    /// <see cref="Tiering.MultiTierCache"/> does not. Not part of equality: two hits with equal values are equal.
    /// </summary>
    public DateTimeOffset? ExpiresAt => ExpiresAtUnixMs == 0 ? null : DateTimeOffset.FromUnixTimeMilliseconds(Math.Clamp(ExpiresAtUnixMs, -62_135_596_800_000, Serialization.CacheValueCodec.MaxExpiryUnixMs));

    /// <summary>Gets the value of a hit.</summary>
    /// <exception cref="InvalidOperationException">The result is a miss.</exception>
    public T Value => HasValue ? _value : throw new InvalidOperationException("The cache result is a miss and has no value; check HasValue first.");

    /// <summary>Gets the value of a hit, or <paramref name="fallback"/> on a miss.</summary>
    /// <param name="fallback">The value to return on a miss.</param>
    /// <returns>The value or the fallback.</returns>
    public T GetValueOrDefault(T fallback) => HasValue ? _value : fallback;

    /// <summary>Gets the value of a hit.</summary>
    /// <param name="value">The value on a hit; the default of <typeparamref name="T"/> on a miss.</param>
    /// <returns><see langword="true"/> on a hit.</returns>
    public bool TryGetValue([MaybeNullWhen(false)] out T value)
    {
        value = _value;
        return HasValue;
    }

    /// <inheritdoc />
    public bool Equals(CacheResult<T> other) =>
        HasValue == other.HasValue && EqualityComparer<T>.Default.Equals(_value, other._value);

    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is CacheResult<T> other && Equals(other);

    /// <inheritdoc />
    public override int GetHashCode() => HasValue ? HashCode.Combine(true, _value) : 0;

    /// <inheritdoc />
    public override string ToString() => HasValue ? $"Hit({_value})" : "Miss";

    /// <summary>Compares two results.</summary>
    /// <param name="left">The first result.</param>
    /// <param name="right">The second result.</param>
    /// <returns><see langword="true"/> when both are misses, or both hits with equal values.</returns>
    public static bool operator ==(CacheResult<T> left, CacheResult<T> right) => left.Equals(right);

    /// <summary>Compares two results.</summary>
    /// <param name="left">The first result.</param>
    /// <param name="right">The second result.</param>
    /// <returns><see langword="true"/> when the results differ.</returns>
    public static bool operator !=(CacheResult<T> left, CacheResult<T> right) => !left.Equals(right);
}
