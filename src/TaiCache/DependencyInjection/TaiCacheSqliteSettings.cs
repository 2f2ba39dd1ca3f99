namespace TaiCache.DependencyInjection;

/// <summary>
/// The SQLite (L3, persistent) tier of a cache registered with <c>AddTaiCache</c>; configuration section <c>Sqlite</c>.
/// The tier exists when <see cref="Enabled"/> is set or <see cref="Path"/> is given.
/// </summary>
public sealed class TaiCacheSqliteSettings
{
    /// <summary>Gets or sets a value indicating whether the cache has a SQLite tier at the default location when no <see cref="Path"/> is given.</summary>
    public bool Enabled { get; set; }

    /// <summary>Gets or sets the database file; <see langword="null"/> for the default location (see <see cref="Sqlite.SqliteTierOptions.FilePath"/>).</summary>
    public string? Path { get; set; }

    /// <summary>Gets or sets the time to live of entries set without one; <see langword="null"/> (the default) for none.</summary>
    public TimeSpan? DefaultTtl { get; set; }

    /// <summary>Gets or sets how often expired rows are deleted; <see langword="null"/> to sweep only on demand. Default 5 minutes.</summary>
    public TimeSpan? SweepInterval { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Gets or sets a hook run on the tier's options after the settings above are applied (code only, not bound).</summary>
    public Action<Sqlite.SqliteTierOptions>? Configure { get; set; }

    internal bool IsEnabled => Enabled || Path is not null;
}
