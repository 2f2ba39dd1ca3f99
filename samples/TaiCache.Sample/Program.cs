using TaiCache;

await using var cache = new InMemoryTier(new InMemoryTierOptions { MaximumSize = 1_000 });
await cache.SetAsync("greeting", "hello from TaiCache");
var hit = await cache.GetAsync<string>("greeting");
Console.WriteLine(hit.Value);
