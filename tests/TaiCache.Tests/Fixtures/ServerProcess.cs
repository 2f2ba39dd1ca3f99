using System.Diagnostics;
using System.Net.Sockets;

namespace TaiCache.Tests.Fixtures;

/// <summary>A server binary (redis-server, memcached) run by a test fixture on a loopback port, killed and restarted on demand.</summary>
public sealed class ServerProcess : IAsyncDisposable
{
    private readonly string _fileName;
    private readonly IReadOnlyList<string> _arguments;
    private Process? _process;

    private ServerProcess(string fileName, IReadOnlyList<string> arguments, int port)
    {
        _fileName = fileName;
        _arguments = arguments;
        Port = port;
    }

    /// <summary>Gets the loopback port the server listens on.</summary>
    public int Port { get; }

    /// <summary>Gets a value indicating whether the process is running.</summary>
    public bool IsRunning => _process is { HasExited: false };

    /// <summary>Finds a binary on the PATH (or the usual sbin folders).</summary>
    public static string? Find(string name)
    {
        var dirs = (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Concat(["/usr/sbin", "/usr/bin", "/usr/local/bin", "/sbin"]);
        return dirs.Select(d => Path.Combine(d, name)).FirstOrDefault(File.Exists);
    }

    /// <summary>Starts a server and waits until its port accepts connections.</summary>
    public static async Task<ServerProcess> StartAsync(string fileName, IReadOnlyList<string> arguments, int port, TimeSpan? readyTimeout = null)
    {
        var server = new ServerProcess(fileName, arguments, port);
        await server.StartAsync(readyTimeout).ConfigureAwait(false);
        return server;
    }

    /// <summary>Starts the process again (after <see cref="Kill"/>) on the same port.</summary>
    public async Task StartAsync(TimeSpan? readyTimeout = null)
    {
        if (IsRunning)
        {
            return;
        }

        var psi = new ProcessStartInfo(_fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in _arguments)
        {
            psi.ArgumentList.Add(a);
        }

        _process = Process.Start(psi) ?? throw new InvalidOperationException($"Could not start {_fileName}.");
        _process.OutputDataReceived += (_, _) => { };
        _process.ErrorDataReceived += (_, _) => { };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();

        var deadline = DateTime.UtcNow + (readyTimeout ?? TimeSpan.FromSeconds(15));
        while (DateTime.UtcNow < deadline)
        {
            if (_process.HasExited)
            {
                var held = PortListeners.IsListenedOn(Port) ? $"Port {Port} is held by another process: " : string.Empty;
                throw new InvalidOperationException($"{held}{Path.GetFileName(_fileName)} exited with code {_process.ExitCode} at start (port {Port}).");
            }

            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync("127.0.0.1", Port).ConfigureAwait(false);

                // Another process listening on the port (another test run's server) answers too: only this process's
                // own listener counts, else a test would freeze or kill one server and talk to another.
                if (PortListeners.OwnedBy(_process.Id, Port) is not false)
                {
                    return;
                }
            }
            catch (SocketException)
            {
            }

            await Task.Delay(25).ConfigureAwait(false);
        }

        var foreign = PortListeners.OwnedBy(_process.Id, Port) is false;
        Kill();
        throw new TimeoutException(foreign
            ? $"Port {Port} is held by another process; {Path.GetFileName(_fileName)} could not listen on it."
            : $"{Path.GetFileName(_fileName)} did not listen on port {Port} in time.");
    }

    /// <summary>Sends a signal to the server with <c>kill</c> (e.g. <c>STOP</c> to freeze it, <c>CONT</c> to let it go on).</summary>
    /// <param name="signal">The signal's name, without <c>SIG</c>.</param>
    public void Signal(string signal)
    {
        var p = _process ?? throw new InvalidOperationException("The server is not running.");
        using var kill = Process.Start("kill", ["-" + signal, p.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]) ?? throw new InvalidOperationException("Could not run kill.");
        if (!kill.WaitForExit(5000) || kill.ExitCode != 0)
        {
            throw new InvalidOperationException($"kill -{signal} failed.");
        }

        // kill returns once the signal is sent, not once it took: a test that freezes a server and calls it at once must
        // find it stopped (a call answered by a server still running failed a test now and then under load).
        if (signal is "STOP" or "CONT")
        {
            WaitForState(p.Id, stopped: signal == "STOP");
        }
    }

    /// <summary>Waits (up to 5 s) until the process is stopped (state <c>T</c> in <c>/proc/pid/stat</c>) or running again.</summary>
    private static void WaitForState(int pid, bool stopped)
    {
        var stat = $"/proc/{pid}/stat";
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(5);
        while (File.Exists(stat) && DateTime.UtcNow < deadline)
        {
            // "pid (comm) state ...": the state follows the last ')'.
            var text = File.ReadAllText(stat);
            var state = text[(text.LastIndexOf(')') + 2)..][0];
            if ((state is 'T' or 't') == stopped)
            {
                return;
            }

            Thread.Sleep(5);
        }
    }

    /// <summary>Kills the server at once (SIGKILL), as a crash would.</summary>
    public void Kill()
    {
        var p = _process;
        if (p is null)
        {
            return;
        }

        try
        {
            if (!p.HasExited)
            {
                p.Kill(entireProcessTree: true);
                p.WaitForExit(5000);
            }
        }
        catch (InvalidOperationException)
        {
        }

        p.Dispose();
        _process = null;
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync()
    {
        Kill();
        return ValueTask.CompletedTask;
    }
}
