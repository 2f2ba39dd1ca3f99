using Microsoft.Data.Sqlite;
using TaiCache.Sqlite;

namespace TaiCache.Tiering.WriteBehind;

/// <summary>
/// Group commit: single writes stage their rows (under the queue's lock, so rows are staged in queue order) and wait
/// for one transaction that writes every row staged so far. One SQLite commit costs tens of microseconds of system
/// calls here whatever it holds, so concurrent writers share it instead of queuing one commit each behind the queue's
/// lock. Every other journal call writes the staged rows first, under the same gate: a key's rows reach the file in the
/// order they were staged, and a removal of a written version never comes before that version's row. Which thread
/// writes a commit (a writer's own, or a queued one) changes neither: only how many rows share it.
/// </summary>
internal sealed partial class WriteBehindJournal
{
    private readonly Lock _stageGate = new();
    private List<PendingWrite> _staged = [];
    private List<byte[]?> _stagedPayloads = [];
    private JournalCommit _open = new();
    private int _lastRows; // how many rows the last commit wrote
    private int _committing; // 1 while a writer or the background loop writes staged rows
    private bool _stagingClosed; // set (under the stage gate) by Dispose before it writes the last staged rows

    /// <summary>
    /// Stages a version's row for the next group commit and returns that commit (called under the queue's lock), its
    /// value encoded by the caller before it took that lock (see <see cref="EncodedRow"/>).
    /// (Whether the file is still there is checked once per commit: a <c>stat</c> costs about a tenth of a shared
    /// commit here, so once per write it was a tenth of the whole.)
    /// </summary>
    public JournalCommit Stage(PendingWrite entry, byte[]? payload)
    {
        lock (_stageGate)
        {
            ObjectDisposedException.ThrowIf(_stagingClosed, this);
            _staged.Add(entry);
            _stagedPayloads.Add(payload);
            _open.Rows++;
            return _open;
        }
    }

    /// <summary>
    /// Waits until <paramref name="commit"/> has ended. When no other commit is under way, a writer alone (its row the
    /// only one staged, and the last commit wrote one row) writes it on this thread, with no thread hop; otherwise the
    /// commit is queued behind the writers ready to run (see <see cref="QueueCommit"/>), so their rows share it. (Each
    /// writer committing on its own thread, the threads took turns writing a row or two each: 1.8 rows a commit from 50
    /// writers, measured, against 13-21 queued.) Throws the journal's refusal, naming <paramref name="key"/>, when it failed.
    /// </summary>
    public ValueTask WaitAsync(JournalCommit commit, string key)
    {
        if (!commit.IsCompleted && Interlocked.CompareExchange(ref _committing, 1, 0) == 0)
        {
            if (commit.Rows > 1 || Volatile.Read(ref _lastRows) > 1)
            {
                QueueCommit();
                return WaitLongerAsync(commit, key);
            }

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
            QueueCommit();
        }
    }

    /// <summary>
    /// Queues the next background commit at the back of the thread pool's global queue, not on this thread's own queue
    /// (which <see cref="Task.Run(Action)"/> uses from a pool thread): the writers its last commit woke run first, and
    /// their next rows are staged before it, so it writes them all in one transaction. Run at once, back to back, it
    /// found one or two rows staged (1.8 rows a commit, measured), and every commit costs its system calls.
    /// </summary>
    private void QueueCommit() =>
        ThreadPool.UnsafeQueueUserWorkItem(static journal => journal.CommitLoop(), this, preferLocal: false);

    /// <summary>
    /// Writes the rows staged, then queues itself again while rows are staged (still the one commit under way, so
    /// writers wait for it instead of committing one row each); stops when none is left (a writer then commits its own).
    /// </summary>
    private void CommitLoop()
    {
        lock (_gate)
        {
            CommitStagedLocked();
        }

        if (HasStaged())
        {
            QueueCommit();
            return;
        }

        Volatile.Write(ref _committing, 0);
        KeepCommitting(); // a row staged since the look above, by a writer that found this commit under way
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

        Volatile.Write(ref _lastRows, rows.Count);
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
