namespace TaiCache.Tiering;

/// <summary>The state of the circuit breaker a <see cref="MultiTierCache"/> keeps around each lower tier.</summary>
public enum CircuitState
{
    /// <summary>Calls go to the tier.</summary>
    Closed = 0,

    /// <summary>The tier failed too often: calls skip it until the break duration has passed.</summary>
    Open = 1,

    /// <summary>The break duration has passed: one probe call is let through; its outcome closes or re-opens the circuit.</summary>
    HalfOpen = 2,
}
