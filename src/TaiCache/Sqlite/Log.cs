using Microsoft.Extensions.Logging;

namespace TaiCache.Sqlite;

/// <summary>Source-generated log messages of the SQLite tier (event ids 5000-5099). Never a key or a value.</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 5000, Level = LogLevel.Information, Message = "SQLite tier '{Name}' opened {Path} (journal mode {JournalMode})")]
    public static partial void Opened(ILogger logger, string name, string path, string journalMode);

    [LoggerMessage(EventId = 5001, Level = LogLevel.Debug, Message = "SQLite tier '{Name}' swept {Removed} expired rows in {ElapsedMs} ms")]
    public static partial void Swept(ILogger logger, string name, long removed, double elapsedMs);

    [LoggerMessage(EventId = 5002, Level = LogLevel.Warning, Message = "SQLite tier '{Name}': the periodic sweep failed")]
    public static partial void SweepFailed(ILogger logger, string name, Exception exception);

    [LoggerMessage(EventId = 5003, Level = LogLevel.Warning, Message = "SQLite tier '{Name}': {Operation} failed with SQLite error {ErrorCode}")]
    public static partial void OperationFailed(ILogger logger, string name, string operation, int errorCode, Exception exception);

    [LoggerMessage(EventId = 5004, Level = LogLevel.Information, Message = "SQLite tier '{Name}' closed")]
    public static partial void Closed(ILogger logger, string name);

    [LoggerMessage(EventId = 5005, Level = LogLevel.Error, Message = "SQLite tier '{Name}': its file {Path} was deleted, moved or replaced while open; the tier refuses every call from now on (writes would be lost). Build a new tier to create the file again")]
    public static partial void FileDeleted(ILogger logger, string name, string path);
}
