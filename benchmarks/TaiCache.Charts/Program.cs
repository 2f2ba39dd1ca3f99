// Makes the PNG charts of docs/benchmarks/img/ from the CSV files of docs/benchmarks/data/.
//
// CSV format (one file may hold several charts; a header line is required):
//   chart,title,ylabel,group,series,value
//   hit-ratio-zipf,Hit ratio on a Zipf trace,hit ratio (%),10k entries,TaiCache,71.2
// - chart:  the PNG's file name (without .png); rows with the same chart make one grouped bar chart
// - title:  the chart's title (taken from the chart's first row)
// - ylabel: the value axis label (taken from the chart's first row)
// - group:  a cluster of bars on the x axis (a trace, a cache size, an operation)
// - series: one colour across groups (a policy, a peer); shown in the legend
// - value:  the bar's height, invariant culture (dot decimal separator)
// Fields may be quoted with double quotes (to hold commas); lines starting with # are comments.
//
// usage: dotnet run --project benchmarks/TaiCache.Charts [-- <data dir> <img dir>]
using System.Globalization;
using System.Text;
using ScottPlot;

var root = FindRepositoryRoot();
var dataDir = args.Length > 0 ? args[0] : Path.Combine(root, "docs", "benchmarks", "data");
var imgDir = args.Length > 1 ? args[1] : Path.Combine(root, "docs", "benchmarks", "img");
if (!Directory.Exists(dataDir))
{
    Console.Error.WriteLine($"no data directory: {dataDir}");
    return 1;
}

Directory.CreateDirectory(imgDir);
var rows = new List<Row>();
foreach (var file in Directory.EnumerateFiles(dataDir, "*.csv").Order(StringComparer.Ordinal))
{
    try
    {
        rows.AddRange(ReadCsv(file));
    }
    catch (FormatException ex)
    {
        Console.Error.WriteLine($"{Path.GetFileName(file)}: {ex.Message}");
        return 2;
    }
}

var written = 0;
foreach (var chart in rows.GroupBy(r => r.Chart, StringComparer.Ordinal))
{
    var path = Path.Combine(imgDir, chart.Key + ".png");
    Render(chart.ToList(), path);
    Console.WriteLine($"wrote {Path.GetRelativePath(root, path)} ({chart.Count()} bars)");
    written++;
}

Console.WriteLine($"{written} chart(s) from {dataDir}");
return 0;

static void Render(List<Row> rows, string path)
{
    var groups = rows.Select(r => r.Group).Distinct(StringComparer.Ordinal).ToList();
    var series = rows.Select(r => r.Series).Distinct(StringComparer.Ordinal).ToList();
    var palette = new ScottPlot.Palettes.Category10();
    var plot = new Plot();
    var bars = new List<Bar>();
    const double gap = 1.0;
    var width = series.Count + gap;
    for (var g = 0; g < groups.Count; g++)
    {
        for (var s = 0; s < series.Count; s++)
        {
            var row = rows.FirstOrDefault(r => r.Group == groups[g] && r.Series == series[s]);
            if (row is null)
            {
                continue;
            }

            bars.Add(new Bar
            {
                Position = (g * width) + s,
                Value = row.Value,
                FillColor = palette.GetColor(s),
                Label = row.Value.ToString(row.Value >= 1000 ? "0" : "0.##", CultureInfo.InvariantCulture),
            });
        }
    }

    var barPlot = plot.Add.Bars(bars);
    barPlot.ValueLabelStyle.FontSize = 11;
    var ticks = groups.Select((_, g) => (g * width) + ((series.Count - 1) / 2.0)).ToArray();
    plot.Axes.Bottom.SetTicks(ticks, groups.ToArray());
    plot.Axes.Margins(bottom: 0, top: 0.15);
    foreach (var (name, s) in series.Select((name, s) => (name, s)))
    {
        plot.Legend.ManualItems.Add(new LegendItem { LabelText = name, FillColor = palette.GetColor(s) });
    }

    plot.ShowLegend(Edge.Bottom); // outside the data area: never hides a bar
    plot.Title(rows[0].Title);
    plot.YLabel(rows[0].YLabel);
    var widthPx = Math.Max(Math.Max(640, 120 + (bars.Count * 40)), 60 + (rows[0].Title.Length * 10));
    plot.SavePng(path, widthPx, 440);
}

static IEnumerable<Row> ReadCsv(string file)
{
    var lines = File.ReadAllLines(file, Encoding.UTF8);
    var header = true;
    for (var i = 0; i < lines.Length; i++)
    {
        var line = lines[i].Trim();
        if (line.Length == 0 || line.StartsWith('#'))
        {
            continue;
        }

        var fields = SplitCsv(line);
        if (header)
        {
            if (!string.Join(',', fields).Equals("chart,title,ylabel,group,series,value", StringComparison.OrdinalIgnoreCase))
            {
                throw new FormatException($"line {i + 1}: expected the header chart,title,ylabel,group,series,value");
            }

            header = false;
            continue;
        }

        if (fields.Count != 6 || !double.TryParse(fields[5], NumberStyles.Float, CultureInfo.InvariantCulture, out var value))
        {
            throw new FormatException($"line {i + 1}: expected 6 fields with a numeric value");
        }

        yield return new Row(fields[0], fields[1], fields[2], fields[3], fields[4], value);
    }
}

static List<string> SplitCsv(string line)
{
    var fields = new List<string>();
    var current = new StringBuilder();
    var quoted = false;
    for (var i = 0; i < line.Length; i++)
    {
        var c = line[i];
        if (quoted)
        {
            if (c == '"' && i + 1 < line.Length && line[i + 1] == '"')
            {
                current.Append('"');
                i++;
            }
            else if (c == '"')
            {
                quoted = false;
            }
            else
            {
                current.Append(c);
            }
        }
        else if (c == '"')
        {
            quoted = true;
        }
        else if (c == ',')
        {
            fields.Add(current.ToString().Trim());
            current.Clear();
        }
        else
        {
            current.Append(c);
        }
    }

    fields.Add(current.ToString().Trim());
    return fields;
}

static string FindRepositoryRoot()
{
    for (var dir = new DirectoryInfo(Directory.GetCurrentDirectory()); dir is not null; dir = dir.Parent)
    {
        if (File.Exists(Path.Combine(dir.FullName, "TaiCache.sln")))
        {
            return dir.FullName;
        }
    }

    return Directory.GetCurrentDirectory();
}

internal sealed record Row(string Chart, string Title, string YLabel, string Group, string Series, double Value);
