namespace TaiCache.Tiering.WriteBehind;

/// <summary>
/// One group commit of the write-behind journal: the rows staged together, written in one SQLite transaction. Writers
/// whose rows it holds wait for it; it ends once, succeeded or failed.
/// </summary>
internal sealed class JournalCommit
{
    private readonly TaskCompletionSource _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Exception? _failure;

    /// <summary>Gets or sets how many rows are staged for the commit so far (written under the journal's stage gate).</summary>
    public int Rows { get; set; }

    /// <summary>Gets whether the commit has ended (succeeded or failed).</summary>
    public bool IsCompleted => _done.Task.IsCompleted;

    /// <summary>Gets whether the commit failed: none of its rows is in the journal.</summary>
    public bool IsFailed => Volatile.Read(ref _failure) is not null;

    /// <summary>Gets why the commit failed (the SQLite error, or a journal file gone), or <see langword="null"/>.</summary>
    public Exception? Failure => Volatile.Read(ref _failure);

    /// <summary>Gets a task that completes (never faults) when the commit has ended.</summary>
    public Task Done => _done.Task;

    public void Succeed() => _done.TrySetResult();

    public void Fail(Exception failure)
    {
        Volatile.Write(ref _failure, failure);
        _done.TrySetResult();
    }
}
