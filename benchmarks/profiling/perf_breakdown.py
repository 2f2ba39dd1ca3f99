"""Reads `perf script -F ip,sym` on stdin; prints the busy samples by component, leaf-first attribution.

Samples of threads spinning or waiting (thread-pool spin, epoll, futex waits) and of the benchmark's own
/proc reading are left out. A sample goes to the first TaiCache, MessagePack or StackExchange.Redis frame from its
leaf (so a BCL call made by TaiCache counts as TaiCache's); TaiCache's samples are listed by method.
"""
import collections
import re
import sys

IDLE = re.compile(r"sched_yield|LowLevelLifoSemaphore|epoll_wait|futex_wait|WaitForSignal|ContextSwitches")
OWNER = re.compile(r"\[(TaiCache|MessagePack|StackExchange\.Redis|Pipelines\.Sockets\.Unofficial|TaiCache\.Benchmarks)\]")

samples, stack = [], []
for line in sys.stdin:
    line = line.strip()
    if not line:
        if stack:
            samples.append(stack)
        stack = []
        continue
    stack.append(re.sub(r"\(.*", "", line.split(" ", 1)[-1]))
if stack:
    samples.append(stack)

counts = collections.Counter()
for frames in samples:
    if IDLE.search(" ".join(frames[:14])):
        continue
    owner = "runtime, kernel, GC, thread pool (no library frame)"
    for frame in frames:
        match = OWNER.search(frame)
        if match:
            owner = match.group(1)
            if owner == "TaiCache":
                owner += ": " + re.sub(r"^.*\] ", "", frame)[-90:]
            break
    counts[owner] += 1

busy = sum(counts.values())
print(f"{len(samples)} samples, {busy} busy")
for owner, count in counts.most_common(25):
    print(f"{100 * count / busy:6.1f}%  {owner}")
