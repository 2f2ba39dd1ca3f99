namespace TaiCache.Tests.Contract;

/// <summary>
/// The contract of a backend tier on top of <see cref="CacheOpsContractTests"/>: a store-if-absent
/// (<see cref="IConditionalWriter"/>), which a <c>MultiTierCache</c> uses to store factory values and copies without
/// overwriting another instance's newer write.
/// </summary>
public abstract class TierContractTests : CacheOpsContractTests
{
    private IConditionalWriter Adder => Assert.IsAssignableFrom<IConditionalWriter>(Cache);

    [Fact]
    public async Task AddAsync_AbsentKey_StoresTheValue()
    {
        var key = Key();
        Assert.True(await Adder.AddAsync(key, "first"));
        Assert.Equal("first", (await Cache.GetAsync<string>(key)).Value);
    }

    [Fact]
    public async Task AddAsync_KeyHoldsAValue_ReturnsFalse_AndKeepsTheValue()
    {
        var key = Key();
        await Cache.SetAsync(key, "stored");
        Assert.False(await Adder.AddAsync(key, "other"));
        Assert.Equal("stored", (await Cache.GetAsync<string>(key)).Value);
    }

    [Fact]
    public async Task AddAsync_KeyWhoseValueExpired_StoresTheNewValue()
    {
        var key = Key();
        await Cache.SetAsync(key, "old", ShortTtl);
        await LetTimePassAsync(ShortTtl);
        Assert.True(await Adder.AddAsync(key, "new"));
        Assert.Equal("new", (await Cache.GetAsync<string>(key)).Value);
    }

    [Fact]
    public async Task AddManyAsync_SomeKeysHoldValues_StoresOnlyTheOthers_AndSaysWhichPerItem()
    {
        var held = Key() + ":held";
        var free = Key() + ":free";
        var again = Key() + ":again";
        await Cache.SetAsync(held, "stored");

        var added = await Adder.AddManyAsync([KeyValuePair.Create(held, "other"), KeyValuePair.Create(free, "new"), KeyValuePair.Create(again, "first"), KeyValuePair.Create(again, "second")]);

        Assert.Equal([false, true, true, false], added);
        Assert.Equal("stored", (await Cache.GetAsync<string>(held)).Value);
        Assert.Equal("new", (await Cache.GetAsync<string>(free)).Value);
        Assert.Equal("first", (await Cache.GetAsync<string>(again)).Value);
    }

    [Fact]
    public async Task AddManyAsync_OneInvalidKey_ThrowsBeforeStoringAny()
    {
        var good = Key();
        await Assert.ThrowsAsync<InvalidCacheKeyException>(async () => await Adder.AddManyAsync([KeyValuePair.Create(good, "v"), KeyValuePair.Create("bad\r\nkey", "v")]));
        Assert.False((await Cache.GetAsync<string>(good)).HasValue);
    }

    [Theory]
    [InlineData("")]
    [InlineData("k\r\nflush_all")]
    public async Task AddAsync_InvalidKey_ThrowsInvalidCacheKeyException(string key)
    {
        var ex = await Assert.ThrowsAsync<InvalidCacheKeyException>(async () => await Adder.AddAsync(key, "v"));
        Assert.Equal(key, ex.Key);
    }
}
