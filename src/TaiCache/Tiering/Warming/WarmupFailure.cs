namespace TaiCache.Tiering.Warming;

/// <summary>One key a warm-up could not load or store.</summary>
/// <param name="Key">The key.</param>
/// <param name="Exception">What the loader or the cache threw.</param>
public sealed record WarmupFailure(string Key, Exception Exception);
