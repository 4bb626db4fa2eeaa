"""The trainer's own time, measured the same way on both sides of bench/vs-prefect.ts.

On PYTHONPATH (with CTLOOP_BENCH_TRAINER_LOG set) for the trainer process only:
when the program is numpy_trainer.py it appends one JSON line at exit with the
process's start (from /proc, so interpreter start-up counts as trainer time)
and end in epoch milliseconds, its pid and output folder. Killed with -9, it
writes nothing (the bench then reads no trainer time for that attempt).
"""

import atexit
import json
import os
import sys
import time


def _process_start_epoch_ms():
    with open(f"/proc/{os.getpid()}/stat", encoding="ascii") as f:
        fields = f.read().rsplit(") ", 1)[1].split()
    started_after_boot = int(fields[19]) / os.sysconf("SC_CLK_TCK")  # field 22 of proc(5)
    age = time.clock_gettime(time.CLOCK_BOOTTIME) - started_after_boot
    return time.time() * 1000 - age * 1000


def _record(log_path, start_ms):
    line = {
        "pid": os.getpid(),
        "startMs": round(start_ms, 1),
        "endMs": round(time.time() * 1000, 1),
        "outputDir": os.environ.get("CTLOOP_OUTPUT_DIR", ""),
    }
    with open(log_path, "a", encoding="utf-8") as f:
        f.write(json.dumps(line) + "\n")


_log = os.environ.get("CTLOOP_BENCH_TRAINER_LOG")
if _log and sys.argv and sys.argv[0].endswith("numpy_trainer.py"):
    atexit.register(_record, _log, _process_start_epoch_ms())
