using System.Diagnostics;
using System.Threading.Channels;

namespace TaiCache.Tests.Tiering.Coherence;

/// <summary>The TaiCache.CoherencePeer console app run as a second process (<c>dotnet TaiCache.CoherencePeer.dll ...</c>).</summary>
internal sealed class PeerProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly Channel<string> _lines = Channel.CreateUnbounded<string>();
    private readonly Stopwatch _clock;

    private PeerProcess(Process process, Stopwatch clock)
    {
        _process = process;
        _clock = clock;
    }

    /// <summary>Gets each stdout line with the time (on <see cref="Clock"/>) it was read.</summary>
    public Stopwatch Clock => _clock;

    public static string DllPath
    {
        get
        {
            // tests/TaiCache.Tests/bin/<Configuration>/<tfm>/ -> tests/TaiCache.CoherencePeer/bin/<Configuration>/<tfm>/
            var baseDir = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
            var tfm = baseDir.Name;
            var configuration = baseDir.Parent!.Name;
            var testsDir = baseDir.Parent!.Parent!.Parent!.Parent!;
            var path = Path.Combine(testsDir.FullName, "TaiCache.CoherencePeer", "bin", configuration, tfm, "TaiCache.CoherencePeer.dll");
            return File.Exists(path)
                ? path
                : throw new FileNotFoundException($"The peer app was not built at {path}; build tests/TaiCache.Tests (it references TaiCache.CoherencePeer).", path);
        }
    }

    public static PeerProcess Start(params string[] arguments)
    {
        var psi = new ProcessStartInfo("dotnet")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add(DllPath);
        foreach (var a in arguments)
        {
            psi.ArgumentList.Add(a);
        }

        var process = new Process { StartInfo = psi };
        var peer = new PeerProcess(process, Stopwatch.StartNew());
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                peer._lines.Writer.TryComplete();
            }
            else
            {
                peer._lines.Writer.TryWrite(e.Data);
            }
        };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return peer;
    }

    public async Task SendAsync(string line)
    {
        await _process.StandardInput.WriteLineAsync(line);
        await _process.StandardInput.FlushAsync();
    }

    /// <summary>Reads stdout lines until one satisfies <paramref name="match"/>; returns it.</summary>
    public async Task<string> WaitForLineAsync(Func<string, bool> match, string what, TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(30));
        try
        {
            while (true)
            {
                var line = await _lines.Reader.ReadAsync(cts.Token);
                if (match(line))
                {
                    return line;
                }
            }
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"The peer process did not print {what} in time.");
        }
        catch (ChannelClosedException)
        {
            throw new InvalidOperationException($"The peer process exited (code {(_process.HasExited ? _process.ExitCode : -1)}) before printing {what}.");
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                await SendAsync("exit");
                using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                await _process.WaitForExitAsync(cts.Token);
            }
        }
        catch (Exception)
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
            }
        }

        _process.Dispose();
    }
}
