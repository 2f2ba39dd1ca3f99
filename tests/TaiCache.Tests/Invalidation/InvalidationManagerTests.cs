using Microsoft.Extensions.Time.Testing;
using TaiCache.Invalidation;

namespace TaiCache.Tests.Invalidation;

/// <summary>The manager over two in-memory tiers (an L1 and a stand-in L2) on a fake clock.</summary>
public sealed class InvalidationManagerTests : IAsyncLifetime
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
    private readonly InMemoryTier _l1;
    private readonly InMemoryTier _l2;
    private readonly InvalidationManager _manager;

    public InvalidationManagerTests()
    {
        _l1 = new InMemoryTier(new InMemoryTierOptions { Name = "l1", MaximumSize = 100_000, TimeProvider = _time });
        _l2 = new InMemoryTier(new InMemoryTierOptions { Name = "l2", MaximumSize = 100_000, TimeProvider = _time });
        _manager = new InvalidationManager([_l1, _l2], new InvalidationManagerOptions { TimeProvider = _time, InstanceId = "test-instance" });
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        await _manager.DisposeAsync();
        await _l1.DisposeAsync();
        await _l2.DisposeAsync();
    }

    [Fact]
    public async Task InvalidateAsync_ThreeLevelCascade_RemovesEveryLevelFromEveryTier()
    {
        await SetAllAsync("product:1", "category:7", "page:home", "feed:rss", "unrelated");
        await _manager.AddDependencyAsync("category:7", "product:1");
        await _manager.AddDependencyAsync("page:home", "category:7");
        await _manager.AddDependencyAsync("feed:rss", "page:home");

        var receipt = await _manager.InvalidateAsync("product:1");

        foreach (var key in new[] { "product:1", "category:7", "page:home", "feed:rss" })
        {
            Assert.False(_l1.TryGet<string>(key, out _), key);
            Assert.False(_l2.TryGet<string>(key, out _), key);
            Assert.Equal(2, receipt.Find(key)!.TiersAffected);
        }

        Assert.True(_l1.TryGet<string>("unrelated", out _));
        Assert.Equal(["product:1", "category:7", "page:home", "feed:rss"], receipt.Keys.Select(k => k.Key));
        Assert.Equal(["product:1", "category:7", "page:home", "feed:rss"], receipt.Find("feed:rss")!.Path);
        Assert.Equal(3, receipt.Find("feed:rss")!.Depth);
        Assert.Equal(InvalidationTrigger.Key, receipt.Trigger);
        Assert.Equal("product:1", receipt.TriggerValue);
        Assert.Equal(InvalidationStrategy.Eager, receipt.Strategy);
        Assert.Equal("test-instance", receipt.OriginInstance);
        Assert.Equal(_time.GetUtcNow(), receipt.Timestamp);
        Assert.True(receipt.Succeeded);
    }

    [Fact]
    public async Task InvalidateAsync_Diamond_RemovesSharedDependentOnce()
    {
        await SetAllAsync("root", "left", "right", "bottom");
        await _manager.AddDependencyAsync("left", "root");
        await _manager.AddDependencyAsync("right", "root");
        await _manager.AddDependencyAsync("bottom", "left");
        await _manager.AddDependencyAsync("bottom", "right");

        var receipt = await _manager.InvalidateAsync("root");

        Assert.Equal(4, receipt.Keys.Count);
        Assert.Empty(receipt.Cycles);
        Assert.False(_l1.TryGet<string>("bottom", out _));
        Assert.Equal(2, receipt.Find("bottom")!.Depth);
    }

    [Fact]
    public async Task InvalidateAsync_Cycle_TerminatesRemovesAllAndReportsCycle()
    {
        await SetAllAsync("a", "b", "c");
        await _manager.AddDependencyAsync("b", "a");
        await _manager.AddDependencyAsync("c", "b");
        await _manager.AddDependencyAsync("a", "c");

        var receipt = await _manager.InvalidateAsync("b");

        Assert.Equal(["b", "c", "a"], receipt.Keys.Select(k => k.Key));
        Assert.Equal(["b", "c", "a", "b"], Assert.Single(receipt.Cycles));
        Assert.Equal(0, _l1.Count);
        Assert.Equal(0, _l2.Count);
    }

    [Fact]
    public async Task InvalidateAsync_DenseCyclicGraph_ReportsABoundedNumberOfCycles_AndStillRemovesEveryKey()
    {
        // A 60-key clique: every edge closes a cycle, each reported as a copy of the search stack (thousands of lists,
        // gigabytes across the audit log on bigger graphs).
        var keys = Enumerable.Range(0, 60).Select(i => $"clique:{i}").ToArray();
        await SetAllAsync(keys);
        foreach (var a in keys)
        {
            foreach (var b in keys)
            {
                if (a != b)
                {
                    await _manager.AddDependencyAsync(a, b);
                }
            }
        }

        var receipt = await _manager.InvalidateAsync(keys[0]);

        Assert.Equal(60, receipt.Keys.Count);
        Assert.InRange(receipt.Cycles.Count, 1, 32);
        Assert.All(receipt.Cycles, c => Assert.Equal(c[0], c[^1]));
        Assert.Equal(0, _l1.Count);
    }

    [Fact]
    public async Task InvalidatePatternAsync_KeysASmallL1Evicted_AreStillFoundInATierThatCannotListKeys()
    {
        // As with memcached under a 100-entry L1: 900 of 1,000 keys stayed there and the receipt said it succeeded.
        var l1 = new InMemoryTier(new InMemoryTierOptions { Name = "small-l1", MaximumSize = 10, TimeProvider = _time });
        var lower = new Tiering.FaultyTier(new InMemoryTier(new InMemoryTierOptions { Name = "unlisted", MaximumSize = 10_000, TimeProvider = _time }));
        await using var manager = new InvalidationManager([l1, lower], new InvalidationManagerOptions { TimeProvider = _time });
        for (var i = 0; i < 100; i++)
        {
            await manager.SetAsync($"user:{i}", i);
        }

        var receipt = await manager.InvalidatePatternAsync(CacheKeyPattern.Prefix("user:"));

        Assert.Equal(100, receipt.Keys.Count);
        for (var i = 0; i < 100; i++)
        {
            Assert.False((await lower.Inner.GetAsync<int>($"user:{i}")).HasValue, $"user:{i} is still in the lower tier");
        }
    }

    [Fact]
    public async Task InvalidateTagAsync_RacingTagAsync_NeverLosesAMembership()
    {
        // The take removed the tag's members object, then read it; an add that had fetched that object before the
        // removal landed in it after the read, and was in neither the taken keys nor the tag's new members.
        var lost = 0;
        for (var round = 0; round < 40; round++)
        {
            var tier = new InMemoryTier(new InMemoryTierOptions { MaximumSize = 100_000, TimeProvider = _time });
            await using var manager = new InvalidationManager([tier], new InvalidationManagerOptions { TimeProvider = _time });
            var taken = new HashSet<string>(StringComparer.Ordinal);
            var writing = true;
            var taker = Task.Run(async () =>
            {
                while (Volatile.Read(ref writing))
                {
                    foreach (var key in (await manager.InvalidateTagAsync("t")).Keys)
                    {
                        taken.Add(key.Key);
                    }
                }
            });
            await Task.Run(async () =>
            {
                for (var i = 0; i < 2_000; i++)
                {
                    await manager.TagAsync($"k{i}", ["t"]);
                }
            });
            Volatile.Write(ref writing, false);
            await taker;
            foreach (var key in (await manager.InvalidateTagAsync("t")).Keys)
            {
                taken.Add(key.Key);
            }

            lost += 2_000 - taken.Count;
        }

        Assert.Equal(0, lost);
    }

    [Fact]
    public async Task EveryCall_AfterDispose_ThrowsObjectDisposedException()
    {
        var manager = new InvalidationManager([_l1], new InvalidationManagerOptions { TimeProvider = _time });
        await manager.DisposeAsync();

        // These worked, and kept updating a key tracking nothing maintained any more.
        await Assert.ThrowsAsync<ObjectDisposedException>(() => manager.GetAsync<string>("k").AsTask());
        await Assert.ThrowsAsync<ObjectDisposedException>(() => manager.AddDependencyAsync("a", "b").AsTask());
        await Assert.ThrowsAsync<ObjectDisposedException>(() => manager.RemoveDependencyAsync("a", "b").AsTask());
        await Assert.ThrowsAsync<ObjectDisposedException>(() => manager.RemoveDependenciesOfAsync("a").AsTask());
        await Assert.ThrowsAsync<ObjectDisposedException>(() => manager.GetDependentsAsync("a").AsTask());
        await Assert.ThrowsAsync<ObjectDisposedException>(() => manager.TagAsync("a", ["t"]).AsTask());
        await Assert.ThrowsAsync<ObjectDisposedException>(() => manager.GetTaggedKeysAsync("t").AsTask());
        await Assert.ThrowsAsync<ObjectDisposedException>(() => manager.FindKeysAsync(CacheKeyPattern.Prefix("a")).AsTask());
        Assert.Throws<ObjectDisposedException>(() => manager.MapEvent("e", InvalidationTarget.ForKey("a")));
    }

    [Fact]
    public async Task InvalidateAsync_CancelledWhileTheTiersAreChanged_StillClearsEveryTierAndWritesTheReceipt()
    {
        var l1 = new InMemoryTier(new InMemoryTierOptions { Name = "near", TimeProvider = _time });
        var lower = new Tiering.FaultyTier(new InMemoryTier(new InMemoryTierOptions { Name = "far", TimeProvider = _time }));
        await using var manager = new InvalidationManager([l1, lower], new InvalidationManagerOptions { TimeProvider = _time });
        await manager.SetAsync("order:1", "v");
        lower.Gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var cts = new CancellationTokenSource();

        var callsBefore = lower.Calls;
        var running = manager.InvalidateAsync("order:1", cts.Token).AsTask();
        await Tiering.TierTestKit.Eventually(() => lower.Calls > callsBefore); // the far tier (changed first) is held
        await cts.CancelAsync();
        lower.Gate.SetResult();
        var receipt = await running;

        // Cancelled half way, the near tier kept its copy over a removed lower tier, and no receipt was written.
        Assert.False(l1.TryGet<string>("order:1", out _));
        Assert.False((await lower.Inner.GetAsync<string>("order:1")).HasValue);
        Assert.Same(receipt, manager.AuditLog.Find(receipt.Id));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => manager.InvalidateAsync("order:1", cts.Token).AsTask()); // before anything: still cancels
    }

    [Fact]
    public async Task InvalidateAsync_DepthBound_LeavesDeeperDependents()
    {
        await using var manager = new InvalidationManager([_l1], new InvalidationManagerOptions { MaxCascadeDepth = 1, TimeProvider = _time });
        await SetAllAsync("d0", "d1", "d2");
        await manager.AddDependencyAsync("d1", "d0");
        await manager.AddDependencyAsync("d2", "d1");

        var receipt = await manager.InvalidateAsync("d0");

        Assert.True(receipt.DepthLimitReached);
        Assert.False(_l1.TryGet<string>("d1", out _));
        Assert.True(_l1.TryGet<string>("d2", out _));
    }

    [Fact]
    public async Task InvalidateAsync_ReceiptMatchesWhatWasRemoved()
    {
        await SetAllAsync("r:present", "r:dep-present");
        await _manager.AddDependencyAsync("r:dep-present", "r:present");
        await _manager.AddDependencyAsync("r:dep-missing", "r:present");

        var receipt = await _manager.InvalidateAsync("r:present");

        Assert.Equal(["r:dep-present", "r:present"], receipt.AffectedKeys.Order(StringComparer.Ordinal));
        Assert.Equal(0, receipt.Find("r:dep-missing")!.TiersAffected);
        Assert.Same(receipt, _manager.AuditLog.FindByKey("r:dep-present").Single());
    }

    [Fact]
    public async Task Lazy_MarksStale_NextReadThroughManagerMisses_WriteClearsMark()
    {
        await SetAllAsync("lazy:1", "lazy:2");
        await _manager.AddDependencyAsync("lazy:2", "lazy:1");

        var receipt = await _manager.InvalidateAsync("lazy:1", InvalidationStrategy.Lazy);

        Assert.Equal(InvalidationStrategy.Lazy, receipt.Strategy);
        Assert.Equal(2, receipt.Keys.Count);
        Assert.True(_l1.TryGet<string>("lazy:1", out _), "lazy leaves the tiers untouched until a read");
        Assert.True(_manager.IsStale("lazy:2"));
        Assert.False((await _manager.GetAsync<string>("lazy:2")).HasValue);
        Assert.False(_l2.TryGet<string>("lazy:2", out _), "the stale read removed the entry");
        Assert.False(_manager.IsStale("lazy:2"));

        await _manager.SetAsync("lazy:1", "fresh");
        Assert.False(_manager.IsStale("lazy:1"));
        Assert.Equal("fresh", (await _manager.GetAsync<string>("lazy:1")).Value);
    }

    [Fact]
    public async Task Lazy_Receipt_CountsTiersHoldingEachMarkedKey_AbsentKeyIsZero()
    {
        await SetAllAsync("lzr:both");
        _l1.Set("lzr:l1only", "v");
        await _manager.TagAsync("lzr:l1only", []);

        var receipt = await _manager.InvalidateManyAsync(["lzr:both", "lzr:l1only", "lzr:absent"], InvalidationStrategy.Lazy);

        Assert.Equal(2, receipt.Find("lzr:both")!.TiersAffected);
        Assert.Equal(1, receipt.Find("lzr:l1only")!.TiersAffected);
        Assert.Equal(0, receipt.Find("lzr:absent")!.TiersAffected);
        Assert.Equal(["lzr:both", "lzr:l1only"], receipt.AffectedKeys.Order(StringComparer.Ordinal));
        Assert.True(receipt.Succeeded);
        Assert.True(_manager.IsStale("lzr:both"));
        Assert.True(_manager.IsStale("lzr:absent"));
        Assert.True(_l1.TryGet<string>("lzr:both", out _), "lazy still leaves the copies in place");
        Assert.True(_l2.TryGet<string>("lzr:both", out _), "lazy still leaves the copies in place");
    }

    [Fact]
    public async Task Lazy_FailingTier_IsNamedInReceipt_KeyStillMarked()
    {
        await using var manager = new InvalidationManager([_l1, new ThrowingTier()], new InvalidationManagerOptions { TimeProvider = _time });
        _l1.Set("lzr:fail", "v");

        var receipt = await manager.InvalidateAsync("lzr:fail", InvalidationStrategy.Lazy);

        Assert.Equal(["throwing"], receipt.FailedTiers);
        Assert.Equal(1, receipt.Find("lzr:fail")!.TiersAffected);
        Assert.True(manager.IsStale("lzr:fail"));
    }

    [Fact]
    public async Task Lazy_BeyondMaxStaleMarks_FallsBackToEager()
    {
        await using var manager = new InvalidationManager([_l1], new InvalidationManagerOptions { MaxStaleMarks = 1, TimeProvider = _time });
        await SetAllAsync("cap:1", "cap:2");
        await manager.AddDependencyAsync("cap:2", "cap:1");

        var receipt = await manager.InvalidateAsync("cap:1", InvalidationStrategy.Lazy);

        Assert.True(manager.IsStale("cap:1"));
        Assert.False(_l1.TryGet<string>("cap:2", out _));
        Assert.Equal(1, receipt.Find("cap:2")!.TiersAffected);
    }

    [Fact]
    public async Task Ttl_ShortensLongTtlButNeverLengthens()
    {
        await using var manager = new InvalidationManager([_l1], new InvalidationManagerOptions { ShortenedTtl = TimeSpan.FromSeconds(5), TimeProvider = _time });
        _l1.Set("ttl:long", "v", TimeSpan.FromHours(1));
        _l1.Set("ttl:none", "v");
        _l1.Set("ttl:short", "v", TimeSpan.FromSeconds(2));
        await manager.AddDependencyAsync("ttl:none", "ttl:long");
        await manager.AddDependencyAsync("ttl:short", "ttl:long");
        await manager.AddDependencyAsync("ttl:absent", "ttl:long");

        var receipt = await manager.InvalidateAsync("ttl:long", InvalidationStrategy.Ttl);

        Assert.Equal(TimeSpan.FromSeconds(5), _l1.GetRemainingTtl("ttl:long"));
        Assert.Equal(TimeSpan.FromSeconds(5), _l1.GetRemainingTtl("ttl:none"));
        Assert.Equal(TimeSpan.FromSeconds(2), _l1.GetRemainingTtl("ttl:short"));
        Assert.Equal(1, receipt.Find("ttl:short")!.TiersAffected); // cached, left alone: it ages out sooner anyway
        Assert.Equal(1, receipt.Find("ttl:none")!.TiersAffected);
        Assert.Equal(0, receipt.Find("ttl:absent")!.TiersAffected);
        Assert.Equal(["ttl:long", "ttl:none", "ttl:short"], receipt.AffectedKeys.Order(StringComparer.Ordinal));
        _time.Advance(TimeSpan.FromSeconds(6));
        Assert.False(_l1.TryGet<string>("ttl:long", out _));
        Assert.False(_l1.TryGet<string>("ttl:none", out _));
    }

    [Fact]
    public async Task InvalidateTagAsync_RemovesTaggedKeysAndTheirDependents_OnlyOnce()
    {
        await _manager.SetAsync("t:1", "v", tags: ["promo"]);
        await _manager.SetAsync("t:2", "v", tags: ["promo", "summer"]);
        await _manager.SetAsync("t:3", "v", tags: ["summer"]);
        await _manager.SetAsync("t:derived", "v");
        await _manager.AddDependencyAsync("t:derived", "t:1");

        var receipt = await _manager.InvalidateTagAsync("promo");

        Assert.Equal(InvalidationTrigger.Tag, receipt.Trigger);
        Assert.Equal(["t:1", "t:2", "t:derived"], receipt.Keys.Select(k => k.Key).Order(StringComparer.Ordinal));
        Assert.False(_l1.TryGet<string>("t:2", out _));
        Assert.False(_l2.TryGet<string>("t:derived", out _));
        Assert.True(_l1.TryGet<string>("t:3", out _));
        Assert.Empty(await _manager.GetTaggedKeysAsync("promo"));
        Assert.Empty((await _manager.InvalidateTagAsync("promo")).Keys);
    }

    [Fact]
    public async Task TagAsync_OnExistingKey_IsInvalidatedWithTheTag()
    {
        _l1.Set("tagged-later", "v");
        await _manager.TagAsync("tagged-later", ["late"]);

        var receipt = await _manager.InvalidateTagAsync("late");

        Assert.Equal(["tagged-later"], receipt.AffectedKeys);
    }

    [Fact]
    public async Task InvalidateTagAsync_MembershipWhoseTtlEnded_IsLeftOutWithItsDependents()
    {
        const string prefix = nameof(InvalidateTagAsync_MembershipWhoseTtlEnded_IsLeftOutWithItsDependents) + ":";
        await _manager.SetAsync(prefix + "short", "v", TimeSpan.FromMinutes(1), tags: ["g"]);
        await _manager.SetAsync(prefix + "long", "v", TimeSpan.FromMinutes(10), tags: ["g"]);
        _l2.Set(prefix + "dependent", "v"); // outlives the value it depends on
        await _manager.AddDependencyAsync(prefix + "dependent", prefix + "short");
        _time.Advance(TimeSpan.FromMinutes(2));
        Assert.Equal([prefix + "long"], await _manager.GetTaggedKeysAsync("g"));

        var receipt = await _manager.InvalidateTagAsync("g");

        Assert.Equal([prefix + "long"], receipt.Keys.Select(k => k.Key));
        Assert.True(_l2.TryGet<string>(prefix + "dependent", out _));
        Assert.Empty((await _manager.InvalidateTagAsync("g")).Keys);
    }

    [Fact]
    public async Task InvalidatePatternAsync_GlobOnL1_RemovesMatchesAndDependents()
    {
        await _manager.SetAsync("user:42:profile", "v");
        await _manager.SetAsync("user:42:orders", "v");
        await _manager.SetAsync("user:420:profile", "v");
        await _manager.SetAsync("report:1", "v");
        await _manager.AddDependencyAsync("report:1", "user:42:orders");

        var receipt = await _manager.InvalidatePatternAsync(CacheKeyPattern.Prefix("user:42:"));

        Assert.Equal(["report:1", "user:42:orders", "user:42:profile"], receipt.Keys.Select(k => k.Key).Order(StringComparer.Ordinal));
        Assert.True(_l1.TryGet<string>("user:420:profile", out _));
        Assert.False(_l2.TryGet<string>("report:1", out _));
        Assert.Equal(InvalidationTrigger.Pattern, receipt.Trigger);
    }

    [Theory]
    [InlineData("a*")]
    [InlineData("x[")]
    public async Task InvalidatePatternAsync_UserInputGlob_RemovesOnlyLiteralMatchesAndSparesOtherNamespaces(string tenant)
    {
        await _manager.SetAsync($"tenant:{tenant}:k1", "v");
        await _manager.SetAsync($"tenant:{tenant}:k2", "v");
        await _manager.SetAsync("tenant:ab:k1", "other tenant");
        await _manager.SetAsync("tenant:a:k1", "other tenant");
        await _manager.SetAsync("tenant:x1:k1", "other tenant");
        await _manager.SetAsync("tenant:x[1:k1", "other tenant");

        var receipt = await _manager.InvalidatePatternAsync(CacheKeyPattern.SafeGlob($"tenant:{tenant}:*"));

        Assert.Equal([$"tenant:{tenant}:k1", $"tenant:{tenant}:k2"], receipt.Keys.Select(k => k.Key).Order(StringComparer.Ordinal));
        foreach (var other in new[] { "tenant:ab:k1", "tenant:a:k1", "tenant:x1:k1", "tenant:x[1:k1" })
        {
            Assert.True(_l1.TryGet<string>(other, out _), other);
            Assert.True(_l2.TryGet<string>(other, out _), other);
        }
    }

    [Fact]
    public async Task InvalidatePatternAsync_CatastrophicRegex_ThrowsAndRemovesNothing()
    {
        var evil = new string('a', 40) + "!";
        await _manager.SetAsync("aaa", "v");
        await _manager.SetAsync(evil, "v");

        var ex = await Assert.ThrowsAsync<CachePatternTimeoutException>(async () =>
            await _manager.InvalidatePatternAsync(CacheKeyPattern.Regex("^(a+)+$", TimeSpan.FromMilliseconds(50))));

        Assert.Contains("simplify it", ex.Message);
        Assert.True(_l1.TryGet<string>("aaa", out _));
        Assert.True(_l1.TryGet<string>(evil, out _));
        Assert.Equal(0, _manager.AuditLog.Count);
    }

    [Fact]
    public async Task InvalidatePatternAsync_Regex_MatchesWithTimeout()
    {
        await _manager.SetAsync("order:1:lines", "v");
        await _manager.SetAsync("order:22:lines", "v");
        await _manager.SetAsync("order:x:lines", "v");

        var receipt = await _manager.InvalidatePatternAsync(CacheKeyPattern.Regex(@"^order:\d+:lines$"));

        Assert.Equal(["order:1:lines", "order:22:lines"], receipt.Keys.Select(k => k.Key).Order(StringComparer.Ordinal));
        Assert.True(_l1.TryGet<string>("order:x:lines", out _));
    }

    [Fact]
    public async Task InvalidatePatternAsync_TrackingOverflowed_ClearsInMemoryTiersAndSaysSo()
    {
        await using var manager = new InvalidationManager([_l1], new InvalidationManagerOptions { MaxTrackedKeys = 2, TimeProvider = _time });
        for (var i = 0; i < 5; i++)
        {
            await manager.SetAsync($"of:{i}", i);
        }

        var receipt = await manager.InvalidatePatternAsync(CacheKeyPattern.Prefix("of:"));

        Assert.Equal(["l1"], receipt.ClearedTiers);
        Assert.Equal(0, _l1.Count);
    }

    [Fact]
    public async Task InvalidatePatternAsync_KeyEvictedFromL1_IsNoLongerTracked()
    {
        await _manager.SetAsync("evict:1", "v");
        _l1.Remove("evict:1");
        _l2.Remove("evict:1");

        var found = await _manager.FindKeysAsync(CacheKeyPattern.Prefix("evict:"));

        Assert.Empty(found);
    }

    [Fact]
    public async Task InvalidatePatternAsync_KeyRewrittenAfterExpiry_IsStillFound()
    {
        await _manager.SetAsync("rewrite:1", "old", TimeSpan.FromSeconds(1));
        _time.Advance(TimeSpan.FromSeconds(2));
        await _manager.SetAsync("rewrite:1", "new", TimeSpan.FromMinutes(1));

        var receipt = await _manager.InvalidatePatternAsync(CacheKeyPattern.Prefix("rewrite:"));

        Assert.Equal(["rewrite:1"], receipt.AffectedKeys);
        Assert.False(_l1.TryGet<string>("rewrite:1", out _));
    }

    [Fact]
    public void MapEvent_NoTargets_IsRefused()
    {
        var ex = Assert.Throws<ArgumentException>(() => _manager.MapEvent("evnone-empty"));
        Assert.Equal("targets", ex.ParamName);
        Assert.Contains("at least one target", ex.Message, StringComparison.Ordinal);
        Assert.False(_manager.UnmapEvent("evnone-empty"), "nothing was mapped");
    }

    [Fact]
    public async Task RaiseEventAsync_Unmapped_LogsWarning_AndReturnsEmptyReceipt()
    {
        var collector = new Microsoft.Extensions.Logging.Testing.FakeLogCollector();
        var logger = new Microsoft.Extensions.Logging.Testing.FakeLogger<InvalidationManager>(collector);
        await using var manager = new InvalidationManager([_l1], new InvalidationManagerOptions { TimeProvider = _time }, logger);
        manager.MapEvent("evnone-mapped", InvalidationTarget.ForKey("evnone:k"));

        var receipt = await manager.RaiseEventAsync("evnone-typo");

        Assert.Empty(receipt.Keys);
        Assert.True(receipt.Succeeded);
        var warning = Assert.Single(collector.GetSnapshot(), r => r.Level == Microsoft.Extensions.Logging.LogLevel.Warning);
        Assert.Equal(6009, warning.Id.Id);
        Assert.Contains("'evnone-typo'", warning.Message, StringComparison.Ordinal);
        Assert.Contains("nothing is mapped", warning.Message, StringComparison.Ordinal);

        collector.Clear();
        await manager.RaiseEventAsync("evnone-mapped");
        Assert.DoesNotContain(collector.GetSnapshot(), r => r.Level >= Microsoft.Extensions.Logging.LogLevel.Warning);
    }

    [Fact]
    public async Task RaiseEventAsync_InvalidatesMappedKeysTagsAndPatterns()
    {
        await _manager.SetAsync("ev:key", "v");
        await _manager.SetAsync("ev:tagged", "v", tags: ["prices"]);
        await _manager.SetAsync("ev:pat:1", "v");
        await _manager.SetAsync("ev:keep", "v");
        await _manager.SetAsync("ev:dep", "v");
        await _manager.AddDependencyAsync("ev:dep", "ev:key");
        _manager.MapEvent("catalog-imported", InvalidationTarget.ForKey("ev:key"), InvalidationTarget.ForTag("prices"));
        _manager.MapEvent("catalog-imported", InvalidationTarget.ForPattern(CacheKeyPattern.Glob("ev:pat:*")));

        var receipt = await _manager.RaiseEventAsync("catalog-imported");

        Assert.Equal(InvalidationTrigger.Event, receipt.Trigger);
        Assert.Equal("catalog-imported", receipt.TriggerValue);
        Assert.Equal(["ev:dep", "ev:key", "ev:pat:1", "ev:tagged"], receipt.Keys.Select(k => k.Key).Order(StringComparer.Ordinal));
        Assert.True(_l1.TryGet<string>("ev:keep", out _));
        Assert.Empty((await _manager.RaiseEventAsync("not-mapped")).Keys);
        Assert.True(_manager.UnmapEvent("catalog-imported"));
    }

    [Fact]
    public async Task ScheduleInvalidation_FiresOnTheClock_WithTtlTrigger()
    {
        await SetAllAsync("sched:1", "sched:dep");
        await _manager.AddDependencyAsync("sched:dep", "sched:1");
        using var handle = _manager.ScheduleInvalidation("sched:1", TimeSpan.FromMinutes(1));
        using var cancelled = _manager.ScheduleInvalidation("sched:dep", TimeSpan.FromMinutes(1));
        cancelled.Dispose();

        _time.Advance(TimeSpan.FromSeconds(59));
        Assert.True(_l1.TryGet<string>("sched:1", out _));
        _time.Advance(TimeSpan.FromSeconds(1));

        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (_manager.AuditLog.Count == 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(10);
        }

        var receipt = Assert.Single(_manager.AuditLog.GetRecent());
        Assert.Equal(InvalidationTrigger.Ttl, receipt.Trigger);
        Assert.False(_l1.TryGet<string>("sched:dep", out _));
    }

    [Fact]
    public async Task InvalidateNamespaceAsync_BumpsVersionAndRecordsReceipt()
    {
        var ns = new CacheNamespace("user:42:", _l2, new CacheNamespaceOptions { TimeProvider = _time });
        var before = await ns.GetKeyAsync("profile");
        _l1.Set(before, "old");

        var receipt = await _manager.InvalidateNamespaceAsync(ns);

        var after = await ns.GetKeyAsync("profile");
        Assert.NotEqual(before, after);
        Assert.StartsWith("user:42:v", after);
        Assert.False(_l1.TryGet<string>(after, out _));
        Assert.Equal(InvalidationTrigger.Namespace, receipt.Trigger);
        Assert.Equal("user:42:", receipt.TriggerValue);
    }

    [Fact]
    public async Task InvalidateAsync_BadKey_ThrowsAndTouchesNothing()
    {
        await Assert.ThrowsAsync<ArgumentNullException>(async () => await _manager.InvalidateAsync(null!));
        await Assert.ThrowsAsync<InvalidCacheKeyException>(async () => await _manager.InvalidateAsync("k\r\nflush_all"));
        await Assert.ThrowsAsync<InvalidCacheKeyException>(async () => await _manager.InvalidateManyAsync(["ok", ""]));
        Assert.Equal(0, _manager.AuditLog.Count);
    }

    [Fact]
    public async Task BadTags_MessagesSayTag_AndNameTheTagParameter()
    {
        var empty = await Assert.ThrowsAsync<InvalidCacheKeyException>(async () => await _manager.InvalidateTagAsync(""));
        Assert.Equal("A tag must not be empty.", empty.Message);
        var blank = await Assert.ThrowsAsync<InvalidCacheKeyException>(async () => await _manager.GetTaggedKeysAsync("  "));
        Assert.Equal("A tag must not be whitespace only.", blank.Message);
        var control = Assert.Throws<InvalidCacheKeyException>(() => InvalidationTarget.ForTag("t\r\nx"));
        Assert.StartsWith("The tag", control.Message, StringComparison.Ordinal);
        Assert.Contains("tags must not contain control characters", control.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("key", control.Message, StringComparison.OrdinalIgnoreCase);

        var nullInSet = await Assert.ThrowsAsync<ArgumentNullException>(async () => await _manager.SetAsync("badtag:1", "v", tags: [null!]));
        Assert.Equal("tags", nullInSet.ParamName);
        Assert.Contains("tag", nullInSet.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("key", nullInSet.Message, StringComparison.OrdinalIgnoreCase);
        var nullInTag = await Assert.ThrowsAsync<ArgumentNullException>(async () => await _manager.TagAsync("badtag:2", ["ok", null!]));
        Assert.Equal("tags", nullInTag.ParamName);
        var emptyInTag = await Assert.ThrowsAsync<InvalidCacheKeyException>(async () => await _manager.TagAsync("badtag:3", ["ok", ""]));
        Assert.Equal("A tag must not be empty.", emptyInTag.Message);
        var nullTag = await Assert.ThrowsAsync<ArgumentNullException>(async () => await _manager.InvalidateTagAsync(null!));
        Assert.Equal("tag", nullTag.ParamName);
        Assert.DoesNotContain("key", nullTag.Message, StringComparison.OrdinalIgnoreCase);

        Assert.False(_l1.TryGet<string>("badtag:1", out _), "a bad tag is refused before the value is written");
        Assert.Equal(0, _manager.AuditLog.Count);
    }

    [Fact]
    public async Task BadKey_MessagesUnchanged()
    {
        var empty = await Assert.ThrowsAsync<InvalidCacheKeyException>(async () => await _manager.InvalidateAsync(""));
        Assert.Equal("A cache key must not be empty.", empty.Message);
        var control = await Assert.ThrowsAsync<InvalidCacheKeyException>(async () => await _manager.InvalidateAsync("k\r\n"));
        Assert.StartsWith("The cache key", control.Message, StringComparison.Ordinal);
        Assert.EndsWith("keys must not contain control characters such as CR or LF.", control.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task InvalidateAsync_FailingTier_OtherTiersStillCleared_ReceiptNamesTheTier()
    {
        await using var manager = new InvalidationManager([_l1, new ThrowingTier()], new InvalidationManagerOptions { TimeProvider = _time });
        _l1.Set("fail:1", "v");

        var receipt = await manager.InvalidateAsync("fail:1");

        Assert.False(receipt.Succeeded);
        Assert.Equal(["throwing"], receipt.FailedTiers);
        Assert.False(_l1.TryGet<string>("fail:1", out _));
    }

    private async Task SetAllAsync(params string[] keys)
    {
        foreach (var key in keys)
        {
            await _manager.SetAsync(key, "value:" + key);
        }
    }

    /// <summary>A tier whose server is gone: every call fails as a real backend does when unreachable.</summary>
    private sealed class ThrowingTier : ICacheOps
    {
        public string Name => "throwing";

        public ValueTask<CacheResult<T>> GetAsync<T>(string key, CancellationToken cancellationToken = default) => throw Down();

        public ValueTask SetAsync<T>(string key, T value, TimeSpan? ttl = null, CancellationToken cancellationToken = default) => throw Down();

        public ValueTask<bool> DeleteAsync(string key, CancellationToken cancellationToken = default) => ValueTask.FromException<bool>(Down());

        public ValueTask<bool> ExistsAsync(string key, CancellationToken cancellationToken = default) => throw Down();

        public ValueTask<bool> ExpireAsync(string key, TimeSpan ttl, CancellationToken cancellationToken = default) => throw Down();

        public ValueTask<IReadOnlyDictionary<string, T>> GetManyAsync<T>(IEnumerable<string> keys, CancellationToken cancellationToken = default) => throw Down();

        public ValueTask SetManyAsync<T>(IEnumerable<KeyValuePair<string, T>> items, TimeSpan? ttl = null, CancellationToken cancellationToken = default) => throw Down();

        public ValueTask<long> DeleteManyAsync(IEnumerable<string> keys, CancellationToken cancellationToken = default) => throw Down();

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;

        private static CacheConnectionException Down() => new("The server is unreachable.");
    }

    [Fact]
    public async Task InProcessTags_MembershipsOfExpiredValues_AreSwept_SoTheIndexStaysBounded()
    {
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        var store = new InMemoryInvalidationStore(new DependencyGraph(), time);
        for (var i = 0; i < 10_000; i++)
        {
            await store.AddTagsAsync($"old:{i}", ["all"], time.GetUtcNow().AddMinutes(1).ToUnixTimeMilliseconds(), default);
        }

        time.Advance(TimeSpan.FromMinutes(2));
        for (var i = 0; i < 10_000; i++)
        {
            await store.AddTagsAsync($"new:{i}", ["all"], time.GetUtcNow().AddMinutes(1).ToUnixTimeMilliseconds(), default);
        }

        Assert.InRange(store.CountMemberships("all"), 10_000, 16_383); // the 10,000 expired ones were swept
        Assert.Equal(10_000, (await store.GetTaggedKeysAsync("all", default)).Count);
        Assert.Equal(10_000, (await store.TakeTaggedKeysAsync("all", default)).Count(k => k.StartsWith("new:", StringComparison.Ordinal)));
    }
}
