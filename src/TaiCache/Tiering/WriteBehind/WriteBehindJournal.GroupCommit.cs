using Microsoft.Data.Sqlite;
using TaiCache.Sqlite;

namespace TaiCache.Tiering.WriteBehind;

/// <summary>
/// Group commit: single writes stage their rows (under the queue's lock, so rows are staged in queue order) and wait
/// for one transaction that writes every row staged so far. One SQLite commit costs tens of microseconds of system
/// calls here whatever it holds, so concurrent writers share it instead of queuing one commit each behind the queue's
/// lock. Every other journal call writes the staged rows first, under the same gate: a key's rows reach the file in the
/// order they were staged, and a removal of a written version never comes before that version's row.
/// </summary>
internal sealed partial class WriteBehindJournal
{
    private readonly Lock _stageGate = new();
    private List<PendingWrite> _staged = [];
    private List<byte[]?> _stagedPayloads = [];
    private JournalCommit _open = new();
    private int _committing; // 1 while a writer or the background loop writes staged rows
    private bool _stagingClosed; // set (under the stage gate) by Dispose before it writes the last staged rows

    /// <summary>
    /// Stages a version's row for the next group commit and returns that commit (called under the queue's lock). The
    /// value is encoded now: one that cannot be encoded throws <see cref="CacheSerializationException"/> and stages nothing.
    /// (Whether the file is still there is checked once per commit: a <c>stat</c> costs about a tenth of a shared
    /// commit here, so once per write it was a tenth of the whole.)
    /// </summary>
    public JournalCommit Stage(PendingWrite entry)
    {
        var payload = entry.Encode();
        lock (_stageGate)
        {
            ObjectDisposedException.ThrowIf(_stagingClosed, this);
            _staged.Add(entry);
            _stagedPayloads.Add(payload);
            return _open;
        }
    }

    /// <summary>
    /// Waits until <paramref name="commit"/> has ended, writing it (and whatever else is staged) on this thread when no
    /// other commit is under way. Throws the journal's refusal, naming <paramref name="key"/>, when it failed.
    /// </summary>
    public ValueTask WaitAsync(JournalCommit commit, string key)
    {
        if (!commit.IsCompleted && Interlocked.CompareExchange(ref _committing, 1, 0) == 0)
        {
            try
            {
                lock (_gate)
                {
                    CommitStagedLocked();
                }
            }
            finally
            {
                Volatile.Write(ref _committing, 0);
            }

            // Rows staged while this commit ran wait on the next one: the background loop writes it, so this writer
            // is not held up by theirs.
            KeepCommitting();
        }

        // Usually written by now (this writer committed it): no async frame then.
        return commit.IsCompleted ? Outcome(commit, key) : WaitLongerAsync(commit, key);
    }

    private async ValueTask WaitLongerAsync(JournalCommit commit, string key)
    {
        await commit.Done.ConfigureAwait(false);
        await Outcome(commit, key).ConfigureAwait(false);
    }

    private ValueTask Outcome(JournalCommit commit, string key) =>
        commit.Failure is { } failure ? ValueTask.FromException(WriteRefused(failure, key)) : ValueTask.CompletedTask;

    /// <summary>Writes the rows staged so far, if any (their writers hear how it went).</summary>
    public void CommitStaged()
    {
        lock (_gate)
        {
            CommitStagedLocked();
        }
    }

    /// <summary>The cache's exception for a failed group commit, naming one writer's key.</summary>
    public CacheException WriteRefused(Exception failure, string key) => failure switch
    {
        SqliteException e => Refused(e, key, "write"),
        FileNotFoundException => FileGone(key),
        _ => new CacheException($"The write-behind journal at '{_path}' refused the write of {TaiCacheDiagnostics.DescribeKey(key)}: {failure.Message}", key, failure),
    };

    /// <summary>Starts the background loop when rows are staged and no commit is under way.</summary>
    private void KeepCommitting()
    {
        if (HasStaged() && Interlocked.CompareExchange(ref _committing, 1, 0) == 0)
        {
            _ = Task.Run(CommitLoop);
        }
    }

    /// <summary>Writes staged rows until none is left (another writer takes over for rows staged after it stops).</summary>
    private void CommitLoop()
    {
        while (true)
        {
            try
            {
                lock (_gate)
                {
                    CommitStagedLocked();
                }
            }
            finally
            {
                Volatile.Write(ref _committing, 0);
            }

            if (!HasStaged() || Interlocked.CompareExchange(ref _committing, 1, 0) != 0)
            {
                return;
            }
        }
    }

    private bool HasStaged()
    {
        lock (_stageGate)
        {
            return _staged.Count > 0;
        }
    }

    /// <summary>
    /// Writes every staged row in one transaction and ends their commit (called under the gate). Never throws: a failure
    /// fails the commit, whose writers undo their writes; a journal disposed meanwhile has written its rows in
    /// <see cref="Dispose"/>.
    /// </summary>
    private void CommitStagedLocked()
    {
        List<PendingWrite> rows;
        List<byte[]?> payloads;
        JournalCommit commit;
        lock (_stageGate)
        {
            if (_staged.Count == 0)
            {
                return;
            }

            (rows, payloads, commit) = (_staged, _stagedPayloads, _open);
            (_staged, _stagedPayloads, _open) = ([], [], new JournalCommit());
        }

        if (_disposed)
        {
            commit.Fail(new ObjectDisposedException(nameof(WriteBehindJournal)));
            return;
        }

        if (SqliteFileWatch.HasMoved(_connection, _path))
        {
            commit.Fail(new FileNotFoundException("The write-behind journal was deleted, moved or replaced while open.", _path));
            return;
        }

        try
        {
            WriteRowsLocked(rows, payloads);
            commit.Succeed();
        }
#pragma warning disable CA1031 // Whatever stopped the transaction, its writers must hear of it (they wait for the commit).
        catch (Exception e)
#pragma warning restore CA1031
        {
            commit.Fail(e);
        }
    }

    /// <summary>Refuses rows staged from now on (called by <see cref="Dispose"/> under the gate, before it writes the last ones).</summary>
    private void CloseStaging()
    {
        lock (_stageGate)
        {
            _stagingClosed = true;
        }
    }
}
