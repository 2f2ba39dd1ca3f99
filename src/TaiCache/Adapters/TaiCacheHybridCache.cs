using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Caching.Hybrid;
using TaiCache.Invalidation;
using TaiCache.Tiering;

namespace TaiCache.Adapters;

/// <summary>
/// A <see cref="HybridCache"/> over a <see cref="MultiTierCache"/>, so code written against HybridCache switches to
/// TaiCache without edits: <c>GetOrCreateAsync</c> (one factory call per key and instance, however many callers wait),
/// <c>SetAsync</c>, <c>RemoveAsync</c>, tags and <c>RemoveByTagAsync</c>.
/// </summary>
/// <remarks>
/// <para>Entry options map onto <see cref="MultiTierEntryOptions"/>: <see cref="HybridCacheEntryOptions.Expiration"/>
/// is the time to live in every tier, <see cref="HybridCacheEntryOptions.LocalCacheExpiration"/> the one in L1. Of the
/// <see cref="HybridCacheEntryFlags"/>, <see cref="HybridCacheEntryFlags.DisableUnderlyingData"/> (read only; a miss
/// returns <see langword="default"/>), <see cref="HybridCacheEntryFlags.DisableLocalCacheRead"/> and
/// <see cref="HybridCacheEntryFlags.DisableDistributedCacheRead"/> (memory tiers are local, the others distributed;
/// such a call has no stampede protection), <see cref="HybridCacheEntryFlags.DisableLocalCacheWrite"/> and
/// <see cref="HybridCacheEntryFlags.DisableDistributedCacheWrite"/> (as <see cref="MultiTierEntryOptions.SkipMemoryWrite"/>
/// and <see cref="MultiTierEntryOptions.SkipDistributedWrite"/>; with both the value is stored nowhere) are honoured.
/// <see cref="HybridCacheEntryFlags.DisableCompression"/> is ignored: a value is compressed as each
/// tier's serializer options say. Without entry options a value lives as long as the cache's defaults say (no expiry
/// when none is set), where Microsoft's HybridCache defaults to five minutes.</para>
/// <para>Tags are recorded by an <see cref="InvalidationManager"/> over the cache (in Redis, shared by every instance,
/// when it was built with <see cref="InvalidationManagerOptions.Redis"/>; else in process). A key is tagged when its
/// value is created or set through this adapter. <see cref="RemoveByTagAsync(string, CancellationToken)"/> deletes every
/// key carrying the tag from every tier at once (eager, unlike HybridCache's lazy timestamps). The wildcard tag
/// <c>*</c> removes every key set or created through adapters sharing the manager's store.</para>
/// </remarks>
public sealed class TaiCacheHybridCache : HybridCache, IAsyncDisposable, IDisposable
{
    /// <summary>Where an entry's tags are kept beside it (a key of their own, the entry's key hashed, with the entry's TTL).</summary>
    internal const string TagsKeyPrefix = "taicache:hybrid:tags:";

    private static readonly ConditionalWeakTable<HybridCacheEntryOptions, MultiTierEntryOptions> Mapped = new();
    private readonly MultiTierCache _cache;
    private readonly Func<CancellationToken, Task<InvalidationManager>> _tags;
    private readonly InvalidationManager? _ownedTags;
    private readonly TagWritesInFlight _tagWrites = new();

    // Tagging a key reads and rewrites its tag list: one tagging per key at a time (by stripe), so the list written
    // last is worked out last.
    private readonly SemaphoreSlim[] _tagGates = [.. Enumerable.Range(0, 64).Select(_ => new SemaphoreSlim(1, 1))];

    /// <summary>Initializes the adapter over a cache it does not own.</summary>
    /// <param name="cache">The cache.</param>
    /// <param name="tags">The manager that records tags (not owned); <see langword="null"/> for an in-process one owned by the adapter.</param>
    public TaiCacheHybridCache(MultiTierCache cache, InvalidationManager? tags = null)
    {
        ArgumentNullException.ThrowIfNull(cache);
        _cache = cache;
        if (tags is null)
        {
            _ownedTags = new InvalidationManager([cache]);
            tags = _ownedTags;
        }

        var manager = Task.FromResult(tags);
        _tags = _ => manager;
    }

    internal TaiCacheHybridCache(MultiTierCache cache, Func<CancellationToken, Task<InvalidationManager>> tags)
    {
        _cache = cache;
        _tags = tags;
    }

    /// <summary>Gets the cache the adapter stores in.</summary>
    public MultiTierCache Cache => _cache;

    /// <summary>
    /// The tag every key set through the adapter carries, so that <c>RemoveByTagAsync("*")</c> reaches them all, in
    /// tiers that cannot list their keys too. Its memberships end with their values' TTLs, like every tag's.
    /// </summary>
    internal const string AllTag = "taicache:hybrid:all";

    /// <inheritdoc />
    public override ValueTask<T> GetOrCreateAsync<TState, T>(string key, TState state, Func<TState, CancellationToken, ValueTask<T>> factory, HybridCacheEntryOptions? options = null, IEnumerable<string>? tags = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(factory);
        var flags = options?.Flags ?? HybridCacheEntryFlags.None;
        var entry = Map(options);
        if ((flags & HybridCacheEntryFlags.DisableUnderlyingData) != 0)
        {
            return GetOnlyAsync<T>(key, entry, cancellationToken);
        }

        var tagList = TagList(tags);
        if ((flags & (HybridCacheEntryFlags.DisableLocalCacheRead | HybridCacheEntryFlags.DisableDistributedCacheRead)) != 0)
        {
            return FlaggedAsync(key, state, factory, entry, tagList, flags, cancellationToken);
        }

        if (StoresNothing(entry))
        {
            // Nothing is stored, so nothing is tagged.
            return _cache.GetOrSetAsync(key, (state, factory), static (s, ct) => s.factory(s.state, ct), entry, cancellationToken);
        }

        var creation = new Creation<TState, T>(this, key, state, factory, tagList, entry);
        var result = _cache.GetOrSetAsync(
            key,
            creation,
            static async (c, ct) =>
            {
                var value = await c.Factory(c.State, ct).ConfigureAwait(false);

                // Tag before the cache stores the value, so a RemoveByTag racing the store cannot miss it; the write
                // stays in flight until the caller is answered, after the store. (No CheckTagListAsync after it: a
                // factory's value goes only where the key holds nothing, so it never lands over another write's value.)
                c.Open();
                await c.Owner.TagAsync(c.Key, c.Tags, c.Own, c.Entry, fill: true, ct).ConfigureAwait(false);
                return value;
            },
            entry,
            cancellationToken);
        if (result.IsCompletedSuccessfully)
        {
            creation.Close();
            return result;
        }

        return CloseWhenDoneAsync(result, creation);
    }

    private static async ValueTask<T> CloseWhenDoneAsync<TState, T>(ValueTask<T> result, Creation<TState, T> creation)
    {
        try
        {
            return await result.ConfigureAwait(false);
        }
        finally
        {
            creation.Close();
        }
    }

    /// <inheritdoc />
    public override async ValueTask SetAsync<T>(string key, T value, HybridCacheEntryOptions? options = null, IEnumerable<string>? tags = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        var tagList = TagList(tags);
        var entry = Map(options);
        if (StoresNothing(entry))
        {
            await _cache.SetAsync(key, value, entry, cancellationToken).ConfigureAwait(false);
            return;
        }

        await TagAndStoreAsync(key, value, tagList, entry, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Tags the key, then stores the value; the write counts as in flight (see <see cref="TagWritesInFlight"/>) until it is stored.</summary>
    private async ValueTask TagAndStoreAsync<T>(string key, T value, string[] tags, MultiTierEntryOptions? entry, CancellationToken cancellationToken)
    {
        var own = OwnTags(tags);
        _tagWrites.Add(key, own);
        try
        {
            var recorded = await TagAsync(key, tags, own, entry, fill: false, cancellationToken).ConfigureAwait(false);
            await _cache.SetAsync(key, value, entry, cancellationToken).ConfigureAwait(false);
            await CheckTagListAsync(key, recorded, tags, entry, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _tagWrites.Remove(key, own);
        }
    }

    /// <summary>The tags an entry was given (all but <see cref="AllTag"/>, which every entry carries), in an array of its own.</summary>
    private static string[] OwnTags(string[] tags) => tags[1..];

    /// <summary>Gets the key an entry's tags are kept under.</summary>
    internal static string TagsKey(string key) => TagsKeyPrefix + Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(key)));

    /// <inheritdoc />
    /// <remarks>The entry's tags go with it: a later entry of the key carries only the tags it is written with.</remarks>
    public override ValueTask RemoveAsync(string key, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        return RemoveAsync([key], cancellationToken);
    }

    /// <inheritdoc />
    /// <remarks>The entries' tags go with them.</remarks>
    public override async ValueTask RemoveAsync(IEnumerable<string> keys, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(keys);
        var list = CacheKeyRules.ValidateAll(keys);
        var tagsKeys = list.ConvertAll(TagsKey);
        var owned = await _cache.GetManyAsync<string[]>(tagsKeys, cancellationToken).ConfigureAwait(false);
        await _cache.DeleteManyAsync([.. list, .. tagsKeys], cancellationToken).ConfigureAwait(false);
        var manager = await _tags(cancellationToken).ConfigureAwait(false);
        var untagged = new List<string>(list.Count);
        for (var i = 0; i < list.Count; i++)
        {
            if (await _cache.ExistsAsync(list[i], cancellationToken).ConfigureAwait(false))
            {
                continue; // set again meanwhile: its memberships are the new entry's
            }

            // Its memberships go too, so tags do not keep removed keys (without a TTL, for ever).
            string[] tags = owned.TryGetValue(tagsKeys[i], out var held) ? [AllTag, .. held] : [AllTag];
            await manager.UntagAsync(list[i], tags, cancellationToken).ConfigureAwait(false);
            untagged.Add(list[i]);
        }

        await RetagWrittenMeanwhileAsync(manager, untagged, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// After a removal dropped keys' memberships: a set of one of them (here or in another instance) that tagged it
    /// after the removal's delete, and stores its value after the removal looked, lost its memberships with them. Its tag
    /// list is back beside the key by now: those keys are tagged again as it lists (with no expiry, as the set's TTL is
    /// not known here; the next removal of the key or of the tag drops them).
    /// </summary>
    private async ValueTask RetagWrittenMeanwhileAsync(InvalidationManager manager, List<string> untagged, CancellationToken cancellationToken)
    {
        if (untagged.Count == 0)
        {
            return;
        }

        var lists = await TagCarriers.ReadListsAsync(_cache, untagged, cancellationToken).ConfigureAwait(false);
        for (var i = 0; i < untagged.Count; i++)
        {
            if (lists[i] is { } listed)
            {
                await manager.TagAsync(untagged[i], [AllTag, .. listed], ttl: null, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <inheritdoc />
    /// <remarks>Deletes every key carrying <paramref name="tag"/> from every tier, and their dependents; <c>*</c> removes every key set through the adapter.</remarks>
    public override async ValueTask RemoveByTagAsync(string tag, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(tag);
        var manager = await _tags(cancellationToken).ConfigureAwait(false);
        var stored = tag == "*" ? AllTag : tag;
        var carriers = new TagCarriers(_cache, stored);
        await manager.InvalidateTagAsync(stored, InvalidationStrategy.Eager, carriers.FindAsync, cancellationToken).ConfigureAwait(false);
        try
        {
            await carriers.ForgetAsync(manager, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // Only a cleanup (the removed entries' tag lists and other memberships, which end with their TTLs): the
            // removal itself is done, and is not reported as failed for it.
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (_ownedTags is not null)
        {
            await _ownedTags.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Disposes the tag manager the adapter owns (none when it was given one, as under dependency injection), blocking on it.</summary>
    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();

    private static MultiTierEntryOptions? Map(HybridCacheEntryOptions? options)
    {
        const HybridCacheEntryFlags Writes = HybridCacheEntryFlags.DisableLocalCacheWrite | HybridCacheEntryFlags.DisableDistributedCacheWrite;
        if (options is null || (options.Expiration is null && options.LocalCacheExpiration is null && ((options.Flags ?? HybridCacheEntryFlags.None) & Writes) == 0))
        {
            return null;
        }

        return Mapped.GetValue(options, static o =>
        {
            var flags = o.Flags ?? HybridCacheEntryFlags.None;
            var entry = new MultiTierEntryOptions
            {
                Ttl = o.Expiration,

                // Capped at Expiration, as HybridCache takes it (an L1 copy never outlives the value); mapped as it came it
                // failed validation, and every call with such options threw.
                LocalTtl = o.LocalCacheExpiration is { } local && o.Expiration is { } ttl && local > ttl ? ttl : o.LocalCacheExpiration,
                SkipMemoryWrite = (flags & HybridCacheEntryFlags.DisableLocalCacheWrite) != 0,
                SkipDistributedWrite = (flags & HybridCacheEntryFlags.DisableDistributedCacheWrite) != 0,
            };
            entry.Validate();
            return entry;
        });
    }

    /// <summary>Whether both writes are disabled: a value is then stored nowhere (and this instance's memory copy is dropped).</summary>
    private static bool StoresNothing(MultiTierEntryOptions? entry) => entry is { SkipMemoryWrite: true, SkipDistributedWrite: true };

    private static string[] TagList(IEnumerable<string>? tags)
    {
        if (tags is null)
        {
            return [AllTag];
        }

        var list = new List<string> { AllTag };
        foreach (var tag in tags)
        {
            ArgumentNullException.ThrowIfNull(tag, nameof(tags));
            if (tag == "*")
            {
                throw new ArgumentException("The tag '*' is reserved: it means every tag in RemoveByTagAsync.", nameof(tags));
            }

            list.Add(tag);
        }

        return [.. list];
    }

    /// <summary>
    /// Records that an entry about to be stored carries <paramref name="tags"/>, and only those: memberships of tags the
    /// previous entry carried and this one does not are dropped (except those of this instance's other writes of the
    /// key still in flight; <paramref name="own"/> is this write's, see <see cref="TagWritesInFlight"/>), then its tag
    /// list is written beside it (so <see cref="RemoveByTagAsync(string, CancellationToken)"/> leaves alone an entry
    /// overwritten without the tag), then its memberships, for as long as its value lives (the entry's TTL, else the
    /// cache's default). Returns the list written, for <see cref="CheckTagListAsync"/> once a set's value is stored.
    /// </summary>
    /// <remarks>The memberships are dropped before the list is written: a write of another instance whose membership
    /// this drops has written its own list before this one, and finds this list in its place when it checks. A factory's
    /// value (<paramref name="fill"/>) drops nothing and keeps the listed tags: it is stored only where the key holds
    /// nothing, so the value those tags describe may be the one that stays.</remarks>
    private async ValueTask<string[]> TagAsync(string key, string[] tags, string[] own, MultiTierEntryOptions? entry, bool fill, CancellationToken cancellationToken)
    {
        CacheKeyRules.ValidateTags(tags);
        var manager = await _tags(cancellationToken).ConfigureAwait(false);
        var tagsKey = TagsKey(key);
        var gate = _tagGates[(uint)StringComparer.Ordinal.GetHashCode(key) % (uint)_tagGates.Length];
        await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var before = await _cache.GetAsync<string[]>(tagsKey, cancellationToken).ConfigureAwait(false);
            var recorded = _tagWrites.WithOthers(key, own);
            if (before.HasValue && before.Value.Except(recorded, StringComparer.Ordinal).ToArray() is { Length: > 0 } dropped)
            {
                if (fill)
                {
                    recorded = [.. recorded, .. dropped];
                }
                else
                {
                    await manager.UntagAsync(key, dropped, cancellationToken).ConfigureAwait(false);
                }
            }

            await _cache.SetAsync(tagsKey, recorded, entry, cancellationToken).ConfigureAwait(false);
            await manager.TagAsync(key, tags, MembershipTtl(entry), cancellationToken).ConfigureAwait(false);
            return recorded;
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>
    /// After a tagged value is stored: when the key's tag list in the shared store is no longer the one this write
    /// recorded, another write of the key (another instance's) overlapped this one, and nothing tells whose value
    /// landed last. The list is then deleted and this write's memberships added again, so that every tag either write
    /// carried removes the key (an entry without a list is removed by any tag that lists it): a removal too many
    /// rather than a tagged value left behind.
    /// </summary>
    private async ValueTask CheckTagListAsync(string key, string[] recorded, string[] tags, MultiTierEntryOptions? entry, CancellationToken cancellationToken)
    {
        if (entry is { SkipDistributedWrite: true })
        {
            return; // kept in this instance's memory only: no other instance writes where it went
        }

        var now = await TagCarriers.ReadListsAsync(_cache, [key], cancellationToken).ConfigureAwait(false);
        if (TagCarriers.SameList(now[0], recorded))
        {
            return;
        }

        var manager = await _tags(cancellationToken).ConfigureAwait(false);
        await _cache.DeleteAsync(TagsKey(key), cancellationToken).ConfigureAwait(false);
        await manager.TagAsync(key, tags, MembershipTtl(entry), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>How long a key's tag memberships live: as long as its value (the entry's TTL, else the cache's default).</summary>
    private TimeSpan? MembershipTtl(MultiTierEntryOptions? entry) => entry?.Ttl ?? _cache.DefaultsForQueue.Ttl;

    private async ValueTask<T> GetOnlyAsync<T>(string key, MultiTierEntryOptions? entry, CancellationToken cancellationToken)
    {
        var result = await _cache.GetAsync<T>(key, entry, cancellationToken).ConfigureAwait(false);
        return result.HasValue ? result.Value : default!;
    }

    /// <summary>
    /// A get-or-create with read flags: reads only the tiers the flags leave (memory tiers are local, the others
    /// distributed; a failing tier is a miss), then calls the factory, and stores its value where the write flags let
    /// it. Without the shared path's stampede protection: concurrent callers may each call the factory.
    /// </summary>
    private async ValueTask<T> FlaggedAsync<TState, T>(string key, TState state, Func<TState, CancellationToken, ValueTask<T>> factory, MultiTierEntryOptions? entry, string[] tags, HybridCacheEntryFlags flags, CancellationToken cancellationToken)
    {
        var readLocal = (flags & HybridCacheEntryFlags.DisableLocalCacheRead) == 0;
        var readDistributed = (flags & HybridCacheEntryFlags.DisableDistributedCacheRead) == 0;
        foreach (var tier in _cache.Tiers)
        {
            if ((tier is InMemoryTier ? readLocal : readDistributed) && await TryReadAsync<T>(tier, key, cancellationToken).ConfigureAwait(false) is { HasValue: true } hit)
            {
                return hit.Value;
            }
        }

        var value = await factory(state, cancellationToken).ConfigureAwait(false);
        if (!StoresNothing(entry))
        {
            await TagAndStoreAsync(key, value, tags, entry, cancellationToken).ConfigureAwait(false);
        }

        return value;
    }

    private static async ValueTask<CacheResult<T>> TryReadAsync<T>(ICacheOps tier, string key, CancellationToken cancellationToken)
    {
        try
        {
            return await tier.GetAsync<T>(key, cancellationToken).ConfigureAwait(false);
        }
        catch (CacheException)
        {
            return CacheResult<T>.Miss; // as the cache's own reads treat a failing tier
        }
    }

    /// <summary>
    /// One caller's get-or-create: what its factory call needs, and its write's place among the writes in flight, from
    /// when the factory has a value until the caller is answered (the cache has stored the value by then).
    /// </summary>
    private sealed class Creation<TState, T>(TaiCacheHybridCache owner, string key, TState state, Func<TState, CancellationToken, ValueTask<T>> factory, string[] tags, MultiTierEntryOptions? entry)
    {
        private readonly Lock _gate = new();
        private bool _open;
        private bool _closed;

        public TaiCacheHybridCache Owner => owner;

        public string Key => key;

        public TState State => state;

        public Func<TState, CancellationToken, ValueTask<T>> Factory => factory;

        public string[] Tags => tags;

        public string[] Own { get; } = OwnTags(tags);

        public MultiTierEntryOptions? Entry => entry;

        /// <summary>Counts the write as in flight, unless the caller was already answered (a factory that outlived its timeout).</summary>
        public void Open()
        {
            lock (_gate)
            {
                if (!_closed && !_open)
                {
                    _open = true;
                    owner._tagWrites.Add(key, Own);
                }
            }
        }

        /// <summary>Ends the write's time in flight: the caller has its answer.</summary>
        public void Close()
        {
            lock (_gate)
            {
                _closed = true;
                if (_open)
                {
                    _open = false;
                    owner._tagWrites.Remove(key, Own);
                }
            }
        }
    }
}
