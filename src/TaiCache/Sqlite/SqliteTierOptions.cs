using Microsoft.Extensions.Logging;
using TaiCache.Metrics;
using TaiCache.Serialization;

namespace TaiCache.Sqlite;

/// <summary>Options of a <see cref="SqliteTier"/>. Validated once and copied when the tier is built.</summary>
public sealed class SqliteTierOptions
{
    /// <summary>The longest <see cref="SweepInterval"/> taken: a timer's period is at most about 49.7 days.</summary>
    internal static readonly TimeSpan MaxSweepInterval = TimeSpan.FromDays(49);

    /// <summary>Gets or sets the tier's name (metrics, logs, and the default file name). Default <c>sqlite</c>.</summary>
    public string Name { get; set; } = "sqlite";

    /// <summary>
    /// Gets or sets the database file. <see langword="null"/> (the default) puts <c>{Name}.db</c> in a <c>TaiCache</c>
    /// folder under the user's local application data folder (<c>~/.local/share</c> on Linux,
    /// <c>%LOCALAPPDATA%</c> on Windows), falling back to the temporary folder when there is none. The folder is created
    /// when missing.
    /// </summary>
    public string? FilePath { get; set; }

    /// <summary>Gets or sets the time to live of entries set without one; <see langword="null"/> (default) for none.</summary>
    public TimeSpan? DefaultTtl { get; set; }

    /// <summary>
    /// Gets or sets how often expired rows are deleted from the file; <see langword="null"/> turns the periodic sweep off
    /// (expired rows are still never returned, and <see cref="SqliteTier.SweepAsync"/> can be called on demand). Default 5 minutes.
    /// </summary>
    public TimeSpan? SweepInterval { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Gets or sets the longest key accepted, in UTF-8 bytes. Default 1024.</summary>
    public int MaxKeyBytes { get; set; } = CacheKeyRules.DefaultMaxKeyBytes;

    /// <summary>Gets or sets how long a write waits for another process holding the file's write lock. Default 5 seconds.</summary>
    public TimeSpan BusyTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Gets or sets how values become bytes (serializer, compression, size limit).</summary>
    public CacheSerializationOptions Serialization { get; set; } = new();

    /// <summary>Gets or sets the clock used for expiry and the sweep timer. Default <see cref="TimeProvider.System"/>.</summary>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;

    /// <summary>Gets or sets the logger factory; <see langword="null"/> for none.</summary>
    public ILoggerFactory? LoggerFactory { get; set; }

    /// <summary>Gets or sets the metrics collector the tier reports to; <see langword="null"/> for none.</summary>
    public MetricsCollector? Metrics { get; set; }

    /// <summary>Checks the options; throws naming the first bad one.</summary>
    /// <exception cref="ArgumentException">An option is out of range.</exception>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(Name))
        {
            throw new ArgumentException("SqliteTierOptions.Name must not be empty.", nameof(Name));
        }

        if (FilePath is not null && string.IsNullOrWhiteSpace(FilePath))
        {
            throw new ArgumentException("SqliteTierOptions.FilePath must be a path, or null for the default location.", nameof(FilePath));
        }

        if (DefaultTtl is { } ttl && ttl <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(DefaultTtl), ttl, "SqliteTierOptions.DefaultTtl must be positive, or null for none.");
        }

        if (SweepInterval is { } sweep && (sweep <= TimeSpan.Zero || sweep > MaxSweepInterval))
        {
            throw new ArgumentOutOfRangeException(nameof(SweepInterval), sweep, "SqliteTierOptions.SweepInterval must be positive and at most 49 days (a timer's longest period), or null to sweep only on demand.");
        }

        if (MaxKeyBytes <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxKeyBytes), MaxKeyBytes, "SqliteTierOptions.MaxKeyBytes must be positive.");
        }

        if (BusyTimeout < TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(BusyTimeout), BusyTimeout, "SqliteTierOptions.BusyTimeout must be zero or more.");
        }

        if (Serialization is null)
        {
            throw new ArgumentException("SqliteTierOptions.Serialization must not be null.", nameof(Serialization));
        }

        Serialization.Validate();

        if (TimeProvider is null)
        {
            throw new ArgumentException("SqliteTierOptions.TimeProvider must not be null.", nameof(TimeProvider));
        }
    }

    /// <summary>Gets the file the tier uses: <see cref="FilePath"/>, or the default location for <see cref="Name"/> (its folder created; the temp folder when the application-data folder cannot be).</summary>
    /// <returns>A full path.</returns>
    public string ResolveFilePath()
    {
        if (FilePath is not null)
        {
            return Path.GetFullPath(FilePath);
        }

        var safeName = string.Concat(Name.Select(c => char.IsLetterOrDigit(c) || c is '-' or '_' or '.' ? c : '_'));
        var root = Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData, Environment.SpecialFolderOption.DoNotVerify);
        if (!string.IsNullOrEmpty(root))
        {
            var directory = Path.Combine(root, "TaiCache");
            try
            {
                Directory.CreateDirectory(directory);
                return Path.Combine(directory, safeName + ".db");
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // A home that exists in name only (a service account, a read-only image): use the temp folder.
            }
        }

        return Path.Combine(Path.GetTempPath(), "TaiCache", safeName + ".db");
    }

    internal SqliteTierOptions Clone() => (SqliteTierOptions)MemberwiseClone();
}
