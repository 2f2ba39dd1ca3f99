using System.IO.Hashing;
using System.Text;

namespace TaiCache;

/// <summary>Process-wide diagnostics switches.</summary>
public static class TaiCacheDiagnostics
{
    /// <summary>
    /// Gets or sets a value indicating whether exception messages and logs may contain keys verbatim. Off by default:
    /// keys are then named by a short, stable hash (<c>key#1a2b3c4d</c>), since keys often carry personal data.
    /// </summary>
    public static bool IncludeKeysInMessages { get; set; }

    /// <summary>Describes a key for a message or a log: the key itself when allowed, else a short stable hash of it.</summary>
    /// <param name="key">The key.</param>
    /// <returns>A printable description of the key.</returns>
    public static string DescribeKey(string? key)
    {
        if (key is null)
        {
            return "key(null)";
        }

        if (IncludeKeysInMessages)
        {
            return $"key '{key}'";
        }

        var hash = XxHash32.HashToUInt32(Encoding.UTF8.GetBytes(key));
        return $"key#{hash:x8}";
    }
}
