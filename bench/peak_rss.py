"""Runs a command and prints the peak resident memory of its process.

    python bench/peak_rss.py LOG COMMAND...

Prints one JSON line: `peak_rss_mib` (the kernel's `ru_maxrss` of the
child, from `os.wait4`), `seconds` and `exit_code`; the command's output
goes to LOG. A small launcher on purpose: Linux counts the pages a child
shares with its parent at `fork` in the child's peak, so the parent of
the measured process must not have imported TensorFlow (a benchmark
script that did would floor every figure at its own size).
"""

import json
import os
import sys
import time


def main():
    log, command = sys.argv[1], sys.argv[2:]
    started = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        out = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        os.dup2(out, 1)
        os.dup2(out, 2)
        os.execvp(command[0], command)
    _, status, usage = os.wait4(pid, 0)
    print(json.dumps({
        "peak_rss_mib": round(usage.ru_maxrss / 1024, 1),
        "seconds": round(time.perf_counter() - started, 1),
        "exit_code": os.waitstatus_to_exitcode(status)}))


if __name__ == "__main__":
    main()
