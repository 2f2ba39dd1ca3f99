using System.Globalization;
using StackExchange.Redis;

namespace TaiCache.Invalidation;

/// <summary>
/// The distributed store: edges and tags in Redis sets (one set per key, so it works on Redis Cluster), shared by
/// every instance, so a cascade started on one instance reaches dependents another instance registered.
/// </summary>
/// <remarks>
/// <c>{prefix}d:{key}</c> holds the keys that depend on <c>key</c>; <c>{prefix}D:{key}</c> the keys <c>key</c>
/// depends on (for removal); <c>{prefix}tz:{tag}</c> the keys carrying <c>tag</c>, a sorted set scored by when each
/// tagged value expires (Unix ms, <c>+inf</c> for never): each add drops the members past their expiry and sets the
/// set's own expiry to its latest member's, so tags on expired or evicted values do not pile up. A level of the walk is
/// one pipelined batch of <c>SMEMBERS</c>.
/// </remarks>
internal sealed class RedisInvalidationStore : IInvalidationStore
{
    private const int Batch = 1024;

    // Takes the live memberships (scored after now, as GetTaggedKeysAsync reads them) and drops the tag with the
    // expired ones: a membership ends with its value's time to live.
    private static readonly LuaScript TakeScript = LuaScript.Prepare(
        "local m = redis.call('ZRANGEBYSCORE', @key, '(' .. @now, '+inf') redis.call('DEL', @key) return m");

    // A key tagged again keeps the later expiry (GT, Redis 6.2+), as in the in-process store. The set's own expiry is
    // set relative to the writer's clock (PEXPIRE, not PEXPIREAT), so a skew between it and the server does not matter.
    private static readonly LuaScript AddTagScript = LuaScript.Prepare(
        """
        redis.call('ZADD', @tag, 'GT', @expiry, @key)
        redis.call('ZREMRANGEBYSCORE', @tag, '-inf', '(' .. @now)
        local top = redis.call('ZRANGE', @tag, -1, -1, 'WITHSCORES')
        if top[2] == nil then return 0 end
        if top[2] == 'inf' then
          redis.call('PERSIST', @tag)
        else
          local left = math.ceil(tonumber(top[2]) - tonumber(@now))
          if left < 1 then left = 1 end
          redis.call('PEXPIRE', @tag, left)
        end
        return 1
        """);

    private readonly IConnectionMultiplexer _connection;
    private readonly string _prefix;
    private readonly int _database;
    private readonly TimeProvider _time;

    public RedisInvalidationStore(IConnectionMultiplexer connection, string prefix, int database, TimeProvider time)
    {
        _connection = connection;
        _prefix = prefix;
        _database = database;
        _time = time;
    }

    public string Kind => "redis";

    private IDatabase Db => _connection.GetDatabase(_database);

    // An edge is two sets that may live on different Cluster nodes, so no transaction spans them. The two writes are
    // ordered instead, so that a failure between them leaves only the harmless half: the backward edge (which only makes
    // a later removal issue one SREM too many), never a forward edge that cascades but that RemoveDependenciesOfAsync
    // cannot find. The caller gets the exception, and retrying completes the edge.
    public async ValueTask<bool> AddDependencyAsync(string dependent, string dependency, CancellationToken cancellationToken)
    {
        var db = Db;
        await db.SetAddAsync(DependenciesKey(dependent), dependency).WaitAsync(cancellationToken).ConfigureAwait(false);
        return await db.SetAddAsync(DependentsKey(dependency), dependent).ConfigureAwait(false);
    }

    public async ValueTask<bool> RemoveDependencyAsync(string dependent, string dependency, CancellationToken cancellationToken)
    {
        var db = Db;
        cancellationToken.ThrowIfCancellationRequested();
        var removed = await db.SetRemoveAsync(DependentsKey(dependency), dependent).ConfigureAwait(false);
        await db.SetRemoveAsync(DependenciesKey(dependent), dependency).ConfigureAwait(false);
        return removed;
    }

    public async ValueTask RemoveKeyAsync(string key, CancellationToken cancellationToken)
    {
        var db = Db;
        var dependents = await db.SetMembersAsync(DependentsKey(key)).WaitAsync(cancellationToken).ConfigureAwait(false);
        var dependencies = await db.SetMembersAsync(DependenciesKey(key)).WaitAsync(cancellationToken).ConfigureAwait(false);
        var pending = new List<Task>(dependents.Length + dependencies.Length);
        foreach (var d in dependents)
        {
            pending.Add(db.SetRemoveAsync(DependenciesKey(d!), key));
        }

        foreach (var d in dependencies)
        {
            pending.Add(db.SetRemoveAsync(DependentsKey(d!), key));
        }

        await Task.WhenAll(pending).ConfigureAwait(false);

        // The key's own sets go last: if an SREM above failed, they still list every edge, so a retry finds them all.
        // Two DELs, not one: on a Cluster the two sets are in different slots.
        var forward = db.KeyDeleteAsync(DependentsKey(key));
        var backward = db.KeyDeleteAsync(DependenciesKey(key));
        await Task.WhenAll(forward, backward).ConfigureAwait(false);
    }

    public async ValueTask WalkAsync(CascadeWalker walker, CancellationToken cancellationToken)
    {
        var db = Db;
        do
        {
            var frontier = walker.Frontier.ToArray();
            for (var start = 0; start < frontier.Length; start += Batch)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var count = Math.Min(Batch, frontier.Length - start);
                var reads = new Task<RedisValue[]>[count];
                for (var i = 0; i < count; i++)
                {
                    reads[i] = db.SetMembersAsync(DependentsKey(frontier[start + i]));
                }

                for (var i = 0; i < count; i++)
                {
                    var members = await reads[i].ConfigureAwait(false);
                    if (members.Length > 0)
                    {
                        walker.AddDependents(frontier[start + i], members.Select(static m => m.ToString()));
                    }
                }
            }
        }
        while (walker.MoveNext());
    }

    public async ValueTask AddTagsAsync(string key, IReadOnlyCollection<string> tags, long expiresAtUnixMs, CancellationToken cancellationToken)
    {
        var db = Db;
        var expiry = expiresAtUnixMs == 0 ? "+inf" : expiresAtUnixMs.ToString(CultureInfo.InvariantCulture);
        var now = _time.GetUtcNow().ToUnixTimeMilliseconds();
        var pending = new List<Task>(tags.Count);
        foreach (var tag in tags)
        {
            pending.Add(db.ScriptEvaluateAsync(AddTagScript, new { tag = (RedisKey)TagKey(tag), expiry, key, now }));
        }

        await Task.WhenAll(pending).ConfigureAwait(false);
    }

    public async ValueTask RemoveTagsAsync(string key, IReadOnlyCollection<string> tags, CancellationToken cancellationToken)
    {
        var db = Db;
        var pending = new List<Task>(tags.Count);
        foreach (var tag in tags)
        {
            pending.Add(db.SortedSetRemoveAsync(TagKey(tag), key));
        }

        await Task.WhenAll(pending).ConfigureAwait(false);
    }

    public async ValueTask<IReadOnlyCollection<string>> GetTaggedKeysAsync(string tag, CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow().ToUnixTimeMilliseconds();
        var members = await Db.SortedSetRangeByScoreAsync(TagKey(tag), now, double.PositiveInfinity, Exclude.Start).ConfigureAwait(false);
        return members.Select(static m => m.ToString()).ToArray();
    }

    public async ValueTask<IReadOnlyCollection<string>> TakeTaggedKeysAsync(string tag, CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow().ToUnixTimeMilliseconds();
        var result = await Db.ScriptEvaluateAsync(TakeScript, new { key = (RedisKey)TagKey(tag), now }).ConfigureAwait(false);
        return result.IsNull ? [] : ((RedisValue[])result!).Select(static m => m.ToString()).ToArray();
    }

    private string DependentsKey(string key) => _prefix + "d:" + key;

    private string DependenciesKey(string key) => _prefix + "D:" + key;

    private string TagKey(string tag) => _prefix + "tz:" + tag;
}
