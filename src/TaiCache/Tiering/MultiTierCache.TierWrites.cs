using System.Runtime.CompilerServices;
using TaiCache.Metrics;

namespace TaiCache.Tiering;

/// <summary>The four write-throughs <see cref="WriteAllTiersAsync"/> applies: a set, a removal, and their batches.</summary>
public sealed partial class MultiTierCache
{
    /// <summary>
    /// One key set in every tier; a memory tier below L1 takes the lower tiers' TTL. With <paramref name="copiedSince"/>
    /// (not -1) the value is a factory's, loaded since that L1 write mark: L1 drops it if the key was written there
    /// meanwhile, and the tiers below take it only where the key holds nothing (see <see cref="YieldingWrite"/>). Once
    /// one of them holds a value already (another instance's newer write), the tiers above it are left alone too
    /// (<paramref name="yielded"/> records it). Without it, the set began at L1's write mark <paramref name="setSince"/>
    /// (-1 when L1 is the only tier): L1, written last, removes the key instead when it was written there meanwhile
    /// (see <see cref="InMemoryTier.SetUnlessWrittenSince"/>).
    /// </summary>
    private readonly struct KeySet<T>(string key, T value, MultiTierEntryOptions options, long copiedSince, long setSince, StrongBox<bool>? yielded = null) : ITierWrite<bool>
    {
        public string ActivityName => TaiCacheTelemetry.SetActivity;

        public string? Operation => null;

        public int KeyCount => -1;

        public string? FirstKey => key;

        public bool Answers => false;

        public bool WriteMemory(InMemoryTier memory, int index)
        {
            if (yielded is { Value: true })
            {
                return false;
            }

            if (copiedSince >= 0 && index == 0)
            {
                if (!options.SkipMemoryWrite)
                {
                    memory.Fill(key, value, options.L1Ttl, copiedSince);
                }
            }
            else if (options.SkipMemoryWrite)
            {
                memory.Remove(key); // its copy would be older than the write
            }
            else if (yielded is not null)
            {
                yielded.Value = !memory.TryAdd(key, value, options.Ttl);
            }
            else if (index == 0 && setSince >= 0)
            {
                memory.SetUnlessWrittenSince(key, value, options.L1Ttl, setSince);
            }
            else
            {
                memory.Set(key, value, index == 0 ? options.L1Ttl : options.Ttl);
            }

            return false;
        }

        public ValueTask WriteAsync(ICacheOps ops, CancellationToken cancellationToken) =>
            yielded is null ? ops.SetAsync(key, value, options.Ttl, cancellationToken) : StoreUnlessNewerAsync(ops, cancellationToken);

        private async ValueTask StoreUnlessNewerAsync(ICacheOps ops, CancellationToken cancellationToken)
        {
            if (!yielded!.Value)
            {
                yielded.Value = !await YieldingWrite.StoreAsync(ops, key, value, options.Ttl, cancellationToken).ConfigureAwait(false);
            }
        }

        public ValueTask<bool> WriteAnsweredAsync(ICacheOps ops, CancellationToken cancellationToken) => throw new NotSupportedException();

        public bool Combine(bool soFar, bool tier) => false;

        public ValueTask PublishAsync(MultiTierCache cache, CancellationToken cancellationToken) => cache.PublishInvalidationAsync([key], cancellationToken);

        public void RemoveFromMemoryTiersAbove(MultiTierCache cache, int index) => cache.RemoveFromMemoryTiersAbove(index, key);

        public async ValueTask RemoveOlderAsync(ICacheOps ops, CancellationToken cancellationToken) => await ops.DeleteAsync(key, cancellationToken).ConfigureAwait(false);

        public string Describe() => $"the write of {TaiCacheDiagnostics.DescribeKey(key)}; no tier above it holds the new value";
    }

    /// <summary>One key removed from every tier; answers whether any tier held it.</summary>
    private readonly struct KeyRemoval(string key) : ITierWrite<bool>
    {
        public string ActivityName => TaiCacheTelemetry.InvalidateActivity;

        public string? Operation => "delete";

        public int KeyCount => -1;

        public string? FirstKey => key;

        public bool Answers => true;

        public bool WriteMemory(InMemoryTier memory, int index) => memory.Remove(key);

        public ValueTask WriteAsync(ICacheOps ops, CancellationToken cancellationToken) => throw new NotSupportedException();

        public ValueTask<bool> WriteAnsweredAsync(ICacheOps ops, CancellationToken cancellationToken) => ops.DeleteAsync(key, cancellationToken);

        public bool Combine(bool soFar, bool tier) => soFar | tier;

        public ValueTask PublishAsync(MultiTierCache cache, CancellationToken cancellationToken) => cache.PublishInvalidationAsync([key], cancellationToken);

        public void RemoveFromMemoryTiersAbove(MultiTierCache cache, int index) => cache.RemoveFromMemoryTiersAbove(index, key);

        public ValueTask RemoveOlderAsync(ICacheOps ops, CancellationToken cancellationToken) => ValueTask.CompletedTask;

        public string Describe() => $"the removal of {TaiCacheDiagnostics.DescribeKey(key)}";
    }

    /// <summary>A batch set in every tier, one call per remote tier; <paramref name="keys"/> are those published (empty
    /// without coherence). The batch began at L1's write mark <paramref name="setSince"/> (see <see cref="KeySet{T}"/>).</summary>
    private readonly struct BatchSet<T>(List<KeyValuePair<string, T>> items, List<string> keys, MultiTierEntryOptions options, long setSince) : ITierWrite<bool>
    {
        public string ActivityName => TaiCacheTelemetry.SetActivity;

        public string? Operation => "set_many";

        public int KeyCount => items.Count;

        public string? FirstKey => items.Count > 0 ? items[0].Key : null;

        public bool Answers => false;

        public bool WriteMemory(InMemoryTier memory, int index)
        {
            foreach (var item in items)
            {
                if (index == 0 && setSince >= 0)
                {
                    memory.SetUnlessWrittenSince(item.Key, item.Value, options.L1Ttl, setSince);
                }
                else
                {
                    memory.Set(item.Key, item.Value, index == 0 ? options.L1Ttl : options.Ttl);
                }
            }

            return false;
        }

        public ValueTask WriteAsync(ICacheOps ops, CancellationToken cancellationToken) => ops.SetManyAsync(items, options.Ttl, cancellationToken);

        public ValueTask<bool> WriteAnsweredAsync(ICacheOps ops, CancellationToken cancellationToken) => throw new NotSupportedException();

        public bool Combine(bool soFar, bool tier) => false;

        public ValueTask PublishAsync(MultiTierCache cache, CancellationToken cancellationToken) => cache.PublishInvalidationAsync(keys, cancellationToken);

        public void RemoveFromMemoryTiersAbove(MultiTierCache cache, int index)
        {
            foreach (var item in items)
            {
                cache.RemoveFromMemoryTiersAbove(index, item.Key);
            }
        }

        public async ValueTask RemoveOlderAsync(ICacheOps ops, CancellationToken cancellationToken) => await ops.DeleteManyAsync(items.ConvertAll(static i => i.Key), cancellationToken).ConfigureAwait(false);

        public string Describe() => $"a batch of {items.Count} writes (first {TaiCacheDiagnostics.DescribeKey(FirstKey)}); no tier above it holds the new values";
    }

    /// <summary>A batch removed from every tier; answers the most keys any one tier removed.</summary>
    private readonly struct BatchRemoval(List<string> keys) : ITierWrite<long>
    {
        public string ActivityName => TaiCacheTelemetry.InvalidateActivity;

        public string? Operation => "delete_many";

        public int KeyCount => keys.Count;

        public string? FirstKey => keys.Count > 0 ? keys[0] : null;

        public bool Answers => true;

        public long WriteMemory(InMemoryTier memory, int index)
        {
            long removed = 0;
            foreach (var key in keys)
            {
                removed += memory.Remove(key) ? 1 : 0;
            }

            return removed;
        }

        public ValueTask WriteAsync(ICacheOps ops, CancellationToken cancellationToken) => throw new NotSupportedException();

        public ValueTask<long> WriteAnsweredAsync(ICacheOps ops, CancellationToken cancellationToken) => ops.DeleteManyAsync(keys, cancellationToken);

        public long Combine(long soFar, long tier) => Math.Max(soFar, tier);

        public ValueTask PublishAsync(MultiTierCache cache, CancellationToken cancellationToken) => cache.PublishInvalidationAsync(keys, cancellationToken);

        public void RemoveFromMemoryTiersAbove(MultiTierCache cache, int index)
        {
            foreach (var key in keys)
            {
                cache.RemoveFromMemoryTiersAbove(index, key);
            }
        }

        public ValueTask RemoveOlderAsync(ICacheOps ops, CancellationToken cancellationToken) => ValueTask.CompletedTask;

        public string Describe() => $"a batch of {keys.Count} removals (first {TaiCacheDiagnostics.DescribeKey(FirstKey)})";
    }
}
