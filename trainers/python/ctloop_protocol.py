"""ctloop's trainer process protocol, for Python trainers.

Inputs (environment variables, set by ctloop's process trainer adapter):
  CTLOOP_DATA            path of the training CSV (features and label columns)
  CTLOOP_FEATURES        JSON list of feature column names, in model order
  CTLOOP_LABEL           name of the label column (0/1)
  CTLOOP_PARAMS          JSON object of hyper-parameters
  CTLOOP_CHECKPOINT_DIR  folder to write checkpoints into
  CTLOOP_CHECKPOINT_EVERY  write a checkpoint every this many steps
  CTLOOP_RESUME_FROM     path of a checkpoint to resume from, or empty
  CTLOOP_OUTPUT_DIR      folder to write the final model artifact into
  CTLOOP_DEVICE          "cpu" or "cuda" (use CUDA only if it is really there)

Outputs: one JSON object per line on stdout; logs go to stderr.
  {"type": "progress", "step": 120, "total": 1000, "metrics": {"loss": 0.41}}
  {"type": "checkpoint", "path": "/…/step-00000120.ckpt", "step": 120, "checksum": "<sha256 hex>"}
  {"type": "done", "artifact": "/…/model.json", "metrics": {"loss": 0.33}}

Exit codes: 0 done; 75 preempted (SIGTERM received, checkpoint written);
2 invalid hyper-parameters; anything else is a failure.
A trainer stops by itself when its parent (the worker) disappears.
"""

import hashlib
import json
import os
import signal
import sys

EXIT_PREEMPTED = 75
EXIT_INVALID_PARAMS = 2


def emit(kind, **fields):
    sys.stdout.write(json.dumps({"type": kind, **fields}) + "\n")
    sys.stdout.flush()


def log(message):
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


def env_inputs():
    return {
        "data": os.environ["CTLOOP_DATA"],
        "features": json.loads(os.environ["CTLOOP_FEATURES"]),
        "label": os.environ["CTLOOP_LABEL"],
        "params": json.loads(os.environ.get("CTLOOP_PARAMS") or "{}"),
        "checkpoint_dir": os.environ["CTLOOP_CHECKPOINT_DIR"],
        "checkpoint_every": int(os.environ.get("CTLOOP_CHECKPOINT_EVERY") or "10"),
        "resume_from": os.environ.get("CTLOOP_RESUME_FROM") or None,
        "output_dir": os.environ["CTLOOP_OUTPUT_DIR"],
        "device": os.environ.get("CTLOOP_DEVICE") or "cpu",
    }


def write_atomically(path, data):
    """Temporary file, fsync, rename, fsync of the folder: a reader sees the old file or the whole new one."""
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    dir_fd = os.open(os.path.dirname(path) or ".", os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return hashlib.sha256(data).hexdigest()


class Preemption:
    """SIGTERM asks for a checkpoint and a clean exit; a vanished parent means the worker is gone."""

    def __init__(self):
        self.requested = False
        self.parent = os.getppid()
        signal.signal(signal.SIGTERM, self._on_term)

    def _on_term(self, *_):
        self.requested = True

    def parent_gone(self):
        return os.getppid() != self.parent


def run(parse_params, train):
    """The start every trainer shares: read the inputs, validate the hyper-parameters
    (exit 2 when they are bad), then train(inputs, params, preemption), whose result is the exit code."""
    inputs = env_inputs()
    try:
        params = parse_params(inputs["params"])
    except ValueError as e:
        log(f"invalid hyper-parameters: {e}")
        return EXIT_INVALID_PARAMS
    return train(inputs, params, Preemption())
