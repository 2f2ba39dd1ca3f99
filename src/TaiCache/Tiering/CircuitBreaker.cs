namespace TaiCache.Tiering;

/// <summary>
/// A small consecutive-failure circuit breaker around one tier: opens after a number of failures in a row, lets one
/// probe through once the break duration has passed, closes on the probe's success. Time comes from a <see cref="TimeProvider"/>.
/// A probe that ends neither way (its caller cancelled it, or a partial outage answered it) gives its permit back
/// (<see cref="OnInconclusive"/>, with the number <see cref="TryAcquire"/> gave it), so the next call probes at once; a
/// call let in while the circuit was closed, or an earlier probe, holds no number that can free a later probe's permit.
/// A probe that never reports at all holds the half-open circuit for one more break duration, after which another may go.
/// </summary>
internal sealed class CircuitBreaker
{
    private readonly Lock _gate = new();
    private readonly int _threshold;
    private readonly TimeSpan _breakDuration;
    private readonly TimeProvider _time;
    private CircuitState _state;
    private int _failures;
    private long _openedAt;
    private long _probeSentAt;
    private bool _probeOut;
    private long _probeNumber; // the latest probe's, counted from 1

    public CircuitBreaker(int threshold, TimeSpan breakDuration, TimeProvider time)
    {
        _threshold = threshold;
        _breakDuration = breakDuration;
        _time = time;
    }

    /// <summary>Raised (outside the lock) when the state changes, with the new state.</summary>
    public event Action<CircuitState>? StateChanged;

    public CircuitState State
    {
        get
        {
            lock (_gate)
            {
                return _state == CircuitState.Open && BreakElapsed() ? CircuitState.HalfOpen : _state;
            }
        }
    }

    /// <summary>Asks to call the tier: <see langword="true"/> when closed, or when this caller is the half-open probe.</summary>
    /// <param name="probe">The probe's number when this caller is the probe (for <see cref="OnInconclusive"/>), else 0.</param>
    public bool TryAcquire(out long probe)
    {
        probe = 0;

        // Lock-free fast path for the common case.
        if (Volatile.Read(ref _failures) == 0 && _state == CircuitState.Closed)
        {
            return true;
        }

        var changed = false;
        bool allowed;
        lock (_gate)
        {
            switch (_state)
            {
                case CircuitState.Closed:
                    allowed = true;
                    break;
                case CircuitState.Open when BreakElapsed():
                    _state = CircuitState.HalfOpen;
                    probe = SendProbe();
                    allowed = true;
                    changed = true;
                    break;
                case CircuitState.HalfOpen when !_probeOut || _time.GetElapsedTime(_probeSentAt) >= _breakDuration:
                    probe = SendProbe();
                    allowed = true;
                    break;
                default:
                    allowed = false;
                    break;
            }
        }

        if (changed)
        {
            StateChanged?.Invoke(CircuitState.HalfOpen);
        }

        return allowed;
    }

    public void OnSuccess()
    {
        if (Volatile.Read(ref _failures) == 0 && _state == CircuitState.Closed)
        {
            return;
        }

        var changed = false;
        lock (_gate)
        {
            _failures = 0;
            _probeOut = false;
            if (_state != CircuitState.Closed)
            {
                _state = CircuitState.Closed;
                changed = true;
            }
        }

        if (changed)
        {
            StateChanged?.Invoke(CircuitState.Closed);
        }
    }

    public void OnFailure()
    {
        var changed = false;
        lock (_gate)
        {
            _failures++;
            if (_state == CircuitState.HalfOpen || (_state == CircuitState.Closed && _failures >= _threshold))
            {
                _state = CircuitState.Open;
                _openedAt = _time.GetTimestamp();
                _probeOut = false;
                changed = true;
            }
        }

        if (changed)
        {
            StateChanged?.Invoke(CircuitState.Open);
        }
    }

    /// <summary>
    /// A call let through ended neither way (cancelled by its caller, or answered in part). When it was the probe still
    /// out, its permit is given back: the next call probes at once, instead of the circuit staying half-open with every
    /// call turned away for one more break duration.
    /// </summary>
    /// <param name="probe">The number <see cref="TryAcquire"/> gave the call (0 when it was not a probe: nothing changes).</param>
    public void OnInconclusive(long probe)
    {
        if (probe == 0)
        {
            return;
        }

        lock (_gate)
        {
            if (_state == CircuitState.HalfOpen && _probeOut && _probeNumber == probe)
            {
                _probeOut = false;
            }
        }
    }

    private long SendProbe()
    {
        _probeOut = true;
        _probeSentAt = _time.GetTimestamp();
        return ++_probeNumber;
    }

    private bool BreakElapsed() => _time.GetElapsedTime(_openedAt) >= _breakDuration;
}
