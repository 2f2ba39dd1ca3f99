
namespace TaiCache.Tiering;

/// <summary>
/// Write-through down the tiers: one loop for a set, a removal and their batches, each described by a struct
/// (<see cref="ITierWrite{TResult}"/>) so every kind gets its own compiled loop and the call stays one async frame.
/// </summary>
public sealed partial class MultiTierCache
{
    /// <summary>
    /// Applies a write to every tier, lowest first. A refusal (unless <paramref name="bestEffort"/>) removes the keys
    /// from the memory tiers above and throws <see cref="TierWriteException"/>. With <paramref name="publish"/>, the
    /// peers are told to drop the keys from their L1: right after L2's write is issued when Redis will run the two in
    /// that order (see <see cref="PublishesInOrderWith"/>), else once every tier has the write.
    /// </summary>
    /// <typeparam name="TWrite">The kind of write.</typeparam>
    /// <typeparam name="TResult">What the tiers answer, combined over them by <see cref="ITierWrite{TResult}.Combine"/>.</typeparam>
    /// <param name="write">The write.</param>
    /// <param name="bestEffort">Whether a refusal is logged only.</param>
    /// <param name="skipTiers">Tiers left out (a bit per tier).</param>
    /// <param name="publish">Whether the peers are told.</param>
    /// <param name="underWay">The write's stripe from <see cref="BeginWrite"/>, counted out when the write ends (-1 for none).</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    private async ValueTask<TResult> WriteAllTiersAsync<TWrite, TResult>(TWrite write, bool bestEffort, ulong skipTiers, bool publish, int underWay, CancellationToken cancellationToken)
        where TWrite : struct, ITierWrite<TResult>
    {
        ValueTask? published = null;
        var sharedIssued = false;
        TResult result = default!;
        try
        {
            try
            {
                for (var i = _slots.Length - 1; i >= 0; i--)
                {
                    var slot = _slots[i];
                    if ((skipTiers & TierBit(i)) != 0)
                    {
                        continue;
                    }

                    using var activity = StartTierActivity(slot, write.ActivityName, write.Operation, write.KeyCount);
                    if (slot.Memory is { } memory)
                    {
                        result = write.Combine(result, write.WriteMemory(memory, i));
                        continue;
                    }

                    try
                    {
                        // The breaker and timeout inline (as InvokeTierAsync does them), so the write runs in this frame and
                        // the tier's. From 50 tasks through Redis alone (--write-throughput), three frames more ran sets at
                        // 0.75-0.77x raw SET; 0.86-0.91x inline.
                        var probe = EnterOrThrow(slot, activity);
                        sharedIssued |= slot.IsShared;

                        try
                        {
    #pragma warning disable CA2012 // Awaited exactly once below; held only while the invalidation is issued after the write.
                            // A set answers nothing: its ValueTask is awaited as it is, not wrapped (a frame per set).
                            ValueTask<TResult> answering = default;
                            ValueTask plain = default;
                            bool faulted;
                            if (write.Answers)
                            {
                                answering = write.WriteAnsweredAsync(slot.Ops, cancellationToken);
                                faulted = answering.IsFaulted;
                            }
                            else
                            {
                                plain = write.WriteAsync(slot.Ops, cancellationToken);
                                faulted = plain.IsFaulted;
                            }

                            if (publish && !faulted && PublishesInOrderWith(i))
                            {
                                published = write.PublishAsync(this, cancellationToken);
                            }

                            if (write.Answers)
                            {
                                result = write.Combine(result, await WithTimeout(answering, cancellationToken).ConfigureAwait(false));
                            }
                            else
                            {
                                await WithTimeout(plain, cancellationToken).ConfigureAwait(false);
                            }
    #pragma warning restore CA2012

                            slot.Breaker?.OnSuccess();
                        }
                        catch (Exception e) when (OnTierCallFailed(slot, e, activity, cancellationToken, probe))
                        {
                            throw TierTimedOut(slot, e);
                        }
                    }
                    catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
                    {
                        Log.TierWriteFailed(_logger, Name, slot, write.FirstKey, e);
                        if (!IsTierFault(e))
                        {
                            // The tier answered and refused the data: its older value would otherwise be read again (and
                            // copied back into L1) while the tiers below hold the new one.
                            await RemoveOlderAsync<TWrite, TResult>(slot, write, cancellationToken).ConfigureAwait(false);
                        }

                        if (!bestEffort)
                        {
                            write.RemoveFromMemoryTiersAbove(this, i);
                            // A batch refused for one of its items names that item when the tier said which (else the first).
                            var key = e is CacheException { Key: { } refused } ? refused : write.FirstKey;
                            throw new TierWriteException($"Tier '{slot.Name}' (L{i + 1}) of cache '{Name}' refused {write.Describe()}.", key, slot.Name, i, e);
                        }
                    }
                }
            }
            catch when (published is not null)
            {
                // The write's own failure is the one to report; the invalidation already on its way is waited for, not
                // reported (a failed publish is logged, a cancelled one is the caller's doing).
                await ObserveAsync(published.Value).ConfigureAwait(false);
                throw;
            }
            catch when (publish && sharedIssued)
            {
                // A shared tier got the write, or may have (a timeout, a cancellation after it was sent), or dropped its
                // older value after refusing it (RemoveOlderAsync): the peers' L1 copies of that older value must go
                // too, though the write failed. An invalidation of a key nothing changed costs the peers a miss.
                await write.PublishAsync(this, CancellationToken.None).ConfigureAwait(false);
                throw;
            }

            if (published is { } issued)
            {
                await issued.ConfigureAwait(false);
            }
            else if (publish)
            {
                await write.PublishAsync(this, cancellationToken).ConfigureAwait(false);
            }

            return result;
        }
        finally
        {
            EndWrite(underWay);
        }
    }

    /// <summary>Removes what a tier that refused a write still holds of its keys, best effort (a failure is logged).</summary>
    private async ValueTask RemoveOlderAsync<TWrite, TResult>(TierSlot slot, TWrite write, CancellationToken cancellationToken)
        where TWrite : struct, ITierWrite<TResult>
    {
        try
        {
            await WithTimeout(write.RemoveOlderAsync(slot.Ops, cancellationToken), cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            Log.TierWriteFailed(_logger, Name, slot, write.FirstKey, e);
        }
    }

    private static async ValueTask ObserveAsync(ValueTask task)
    {
        try
        {
            await task.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Cancelled with the write it followed.
        }
    }

    /// <summary>One write-through, as <see cref="WriteAllTiersAsync"/> applies it to each tier.</summary>
    /// <typeparam name="TResult">What a tier answers.</typeparam>
    private interface ITierWrite<TResult>
    {
        /// <summary>Gets the name of the trace activity of each tier's write.</summary>
        string ActivityName { get; }

        /// <summary>Gets the operation the trace names (<see langword="null"/> for the activity's own).</summary>
        string? Operation { get; }

        /// <summary>Gets the batch's size for the trace (-1 for a single key).</summary>
        int KeyCount { get; }

        /// <summary>Gets the key (a batch's first) that logs and exceptions name.</summary>
        string? FirstKey { get; }

        /// <summary>Writes to a memory tier.</summary>
        TResult WriteMemory(InMemoryTier memory, int index);

        /// <summary>Gets a value indicating whether a remote tier answers the write (a removal: whether it held the key),
        /// through <see cref="WriteAnsweredAsync"/>; else <see cref="WriteAsync"/> writes.</summary>
        bool Answers { get; }

        /// <summary>Starts a write a remote tier answers nothing to (a set).</summary>
        ValueTask WriteAsync(ICacheOps ops, CancellationToken cancellationToken);

        /// <summary>Starts a write a remote tier answers (a removal).</summary>
        ValueTask<TResult> WriteAnsweredAsync(ICacheOps ops, CancellationToken cancellationToken);

        /// <summary>Combines what the tiers answered.</summary>
        TResult Combine(TResult soFar, TResult tier);

        /// <summary>Tells the peers to drop the written keys from their L1.</summary>
        ValueTask PublishAsync(MultiTierCache cache, CancellationToken cancellationToken);

        /// <summary>After tier <paramref name="index"/> refused: drops the keys from the memory tiers above it.</summary>
        void RemoveFromMemoryTiersAbove(MultiTierCache cache, int index);

        /// <summary>
        /// After a reachable remote tier refused the data (too large for it, say): removes the keys' older values from it,
        /// so the next read does not find them there and copy them back up; nothing for a removal.
        /// </summary>
        ValueTask RemoveOlderAsync(ICacheOps ops, CancellationToken cancellationToken);

        /// <summary>Describes what was refused, for the exception (for example "the write of 'k'").</summary>
        string Describe();
    }
}
