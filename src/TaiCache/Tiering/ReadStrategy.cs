namespace TaiCache.Tiering;

/// <summary>How a <see cref="MultiTierCache"/> fills its tiers on reads.</summary>
public enum ReadStrategy
{
    /// <summary>
    /// A hit in a lower tier is copied into the tiers above it, and <see cref="MultiTierCache.GetOrSetAsync{TState, T}"/>
    /// stores a factory's value in every tier.
    /// </summary>
    ReadThrough = 0,

    /// <summary>
    /// Reads look through the tiers in order but copy nothing upwards: the application loads and sets values itself
    /// (cache-aside). A factory's value given to <see cref="MultiTierCache.GetOrSetAsync{TState, T}"/> is still stored.
    /// </summary>
    LazyLoad = 1,
}
