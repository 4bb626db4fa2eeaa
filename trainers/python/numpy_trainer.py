"""A ctloop trainer that needs only numpy: logistic regression by full-batch
gradient descent, checkpointed through the process protocol
(see ctloop_protocol.py). Deterministic: resuming from a checkpoint gives the
same weights as an uninterrupted run with the same seed.

Hyper-parameters (CTLOOP_PARAMS): epochs, learningRate, l2, seed, and
stepDelayMs (sleep per step; lets tests and benchmarks kill it mid-run), and
checkpointPadBytes (makes checkpoints that large, to stand in for a big model).
"""

import io
import json
import os
import sys
import time

import numpy as np

from ctloop_protocol import EXIT_PREEMPTED, emit, log, run, write_atomically
from tabular import load_standardized


def parse_params(raw):
    try:
        p = {
            "epochs": int(raw.get("epochs", 200)),
            "learningRate": float(raw.get("learningRate", 0.5)),
            "l2": float(raw.get("l2", 0.001)),
            "seed": int(raw.get("seed", 42)),
            "stepDelayMs": float(raw.get("stepDelayMs", 0)),
            "checkpointPadBytes": int(raw.get("checkpointPadBytes", 0)),
        }
    except (TypeError, ValueError) as e:
        raise ValueError(f"hyper-parameters must be numbers: {e}")
    if p["epochs"] < 1 or p["learningRate"] <= 0 or p["l2"] < 0 or p["stepDelayMs"] < 0:
        raise ValueError("epochs must be >= 1, learningRate > 0, l2 >= 0, stepDelayMs >= 0")
    return p


def save_checkpoint(directory, step, w, b, loss, pad_bytes=0):
    buf = io.BytesIO()
    # pad: a stand-in for a large model's state, so that benchmarks can kill mid-write
    np.savez(buf, step=np.array(step), w=w, b=np.array(b), loss=np.array(loss), pad=np.zeros(pad_bytes, dtype=np.uint8))
    path = os.path.join(directory, f"step-{step:08d}.npz")
    checksum = write_atomically(path, buf.getvalue())
    emit("checkpoint", path=path, step=step, checksum=checksum)


def train(inputs, params, preemption):
    X, y, means, stds = load_standardized(inputs["data"], inputs["features"], inputs["label"])
    n, d = X.shape
    rng = np.random.default_rng(params["seed"])
    w, b, step = rng.normal(0, 0.01, d), 0.0, 0
    if inputs["resume_from"]:
        ckpt = np.load(inputs["resume_from"])
        w, b, step = ckpt["w"], float(ckpt["b"]), int(ckpt["step"])
        log(f"resumed from step {step}")
    total, every = params["epochs"], inputs["checkpoint_every"]
    loss = float("nan")
    while step < total:
        if preemption.parent_gone():
            log("worker is gone; stopping")
            return EXIT_PREEMPTED
        z = X @ w + b
        p = 1.0 / (1.0 + np.exp(-z))
        eps = 1e-15
        loss = float(-np.mean(y * np.log(p + eps) + (1 - y) * np.log(1 - p + eps)) + params["l2"] / 2 * w @ w)
        grad = p - y
        w = w - params["learningRate"] * (X.T @ grad / n + params["l2"] * w)
        b = b - params["learningRate"] * float(grad.mean())
        step += 1
        emit("progress", step=step, total=total, metrics={"loss": loss})
        if step % every == 0 or step == total:
            save_checkpoint(inputs["checkpoint_dir"], step, w, b, loss, params["checkpointPadBytes"])
        if preemption.requested:
            if step % every != 0 and step != total:
                save_checkpoint(inputs["checkpoint_dir"], step, w, b, loss, params["checkpointPadBytes"])
            log(f"preempted at step {step}; checkpoint written")
            return EXIT_PREEMPTED
        if params["stepDelayMs"]:
            time.sleep(params["stepDelayMs"] / 1000)
    # The artifact is the same JSON model the builtin trainer writes, so the gateway can serve it.
    model = {
        "kind": "logreg",
        "features": inputs["features"],
        "weights": w.tolist(),
        "bias": float(b),
        "means": means.tolist(),
        "stds": stds.tolist(),
    }
    artifact = os.path.join(inputs["output_dir"], "model.json")
    write_atomically(artifact, json.dumps(model).encode())
    emit("done", artifact=artifact, metrics={"loss": loss})
    return 0


if __name__ == "__main__":
    sys.exit(run(parse_params, train))
