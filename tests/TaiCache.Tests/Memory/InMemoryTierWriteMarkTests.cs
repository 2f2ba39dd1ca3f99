namespace TaiCache.Tests.Memory;

/// <summary>
/// Write marks: a copy read elsewhere since a mark is stored unless its key was written (set, removed, expired,
/// cleared) meanwhile; writes of other keys do not stop it, except the few that share its stripe.
/// </summary>
public sealed class InMemoryTierWriteMarkTests
{
    private static InMemoryTier Tier() => new(new InMemoryTierOptions { MaximumSize = 10_000 });

    [Fact]
    public void Fill_NothingWrittenSinceTheMark_StoresTheCopy()
    {
        var tier = Tier();
        var mark = tier.WriteMark;

        Assert.True(tier.Fill("k", "copy", null, mark));
        Assert.True(tier.TryGet<string>("k", out var held) && held == "copy");
        Assert.False(tier.WrittenSince("k", mark)); // a copy is not a write
    }

    [Theory]
    [InlineData("set")]
    [InlineData("remove")]
    [InlineData("remove-absent")]
    [InlineData("expire")]
    [InlineData("clear")]
    [InlineData("set-many")]
    [InlineData("delete-many")]
    public async Task Fill_KeyWrittenSinceTheMark_IsDropped(string write)
    {
        var tier = Tier();
        if (write != "remove-absent")
        {
            tier.Set("k", "before");
        }

        var mark = tier.WriteMark;
        switch (write)
        {
            case "set": tier.Set("k", "new"); break;
            case "remove": case "remove-absent": tier.Remove("k"); break;
            case "expire": await tier.ExpireAsync("k", TimeSpan.FromMinutes(1)); break;
            case "clear": tier.Clear(); break;
            case "set-many": await tier.SetManyAsync([new KeyValuePair<string, string>("k", "new")]); break;
            case "delete-many": await tier.DeleteManyAsync(["k"]); break;
        }

        Assert.True(tier.WrittenSince("k", mark));
        Assert.False(tier.Fill("k", "older copy", null, mark));
        Assert.False(tier.TryGet<string>("k", out var held) && held == "older copy");
    }

    [Fact]
    public void FillMany_DropsOnlyTheKeysWrittenSinceTheMark()
    {
        var tier = Tier();
        var mark = tier.WriteMark;
        tier.Set("b", "new");
        var others = Enumerable.Range(0, 50).Select(i => new KeyValuePair<string, string>($"other{i}", "copy")).ToList();

        tier.FillMany([new("a", "copy"), new("b", "older copy"), .. others], null, mark);

        Assert.True(tier.TryGet<string>("a", out _));
        Assert.True(tier.TryGet<string>("b", out var b) && b == "new");
        Assert.True(others.Count(o => tier.TryGet<string>(o.Key, out _)) >= 45); // one write, so at most one other shares its stripe
    }
}
