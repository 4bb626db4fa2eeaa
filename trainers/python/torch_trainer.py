"""A ctloop trainer in PyTorch: an MLP on tabular data, trained with mini-batch
Adam through the process protocol (see ctloop_protocol.py).

Deterministic: seeds every generator, uses deterministic algorithms, and
checkpoints the model, the optimiser, every random state and the position in
the data, so a run resumed from a checkpoint ends with the same weights as an
uninterrupted run with the same seed. Uses CUDA when CTLOOP_DEVICE asks for it
and torch sees a GPU; CPU otherwise.

Hyper-parameters (CTLOOP_PARAMS): epochs, batchSize, learningRate, hidden
(list of layer widths), seed, stepDelayMs. A step is one mini-batch.
"""

import io
import json
import os
import random
import sys
import time

import numpy as np

from ctloop_protocol import EXIT_PREEMPTED, emit, log, run, write_atomically
from tabular import load_standardized

os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # deterministic cuBLAS
import torch  # noqa: E402  (after the cuBLAS setting)


def parse_params(raw):
    try:
        p = {
            "epochs": int(raw.get("epochs", 20)),
            "batchSize": int(raw.get("batchSize", 64)),
            "learningRate": float(raw.get("learningRate", 0.01)),
            "hidden": [int(h) for h in raw.get("hidden", [16])],
            "seed": int(raw.get("seed", 42)),
            "stepDelayMs": float(raw.get("stepDelayMs", 0)),
        }
    except (TypeError, ValueError) as e:
        raise ValueError(f"hyper-parameters have the wrong type: {e}")
    if p["epochs"] < 1 or p["batchSize"] < 1 or p["learningRate"] <= 0 or any(h < 1 for h in p["hidden"]):
        raise ValueError("epochs, batchSize and hidden widths must be >= 1; learningRate > 0")
    return p


def build(d, hidden):
    layers, width = [], d
    for h in hidden:
        layers += [torch.nn.Linear(width, h), torch.nn.ReLU()]
        width = h
    layers.append(torch.nn.Linear(width, 1))
    return torch.nn.Sequential(*layers)


def train(inputs, params, preemption):
    use_cuda = inputs["device"] == "cuda" and torch.cuda.is_available()
    device = torch.device("cuda" if use_cuda else "cpu")
    log(f"device: {torch.cuda.get_device_name(0) if use_cuda else 'cpu'} (asked for {inputs['device']})")
    torch.use_deterministic_algorithms(True)
    random.seed(params["seed"])
    np.random.seed(params["seed"])
    torch.manual_seed(params["seed"])

    Xn, yn, means, stds = load_standardized(inputs["data"], inputs["features"], inputs["label"])
    X = torch.tensor(Xn, dtype=torch.float32, device=device)
    y = torch.tensor(yn, dtype=torch.float32, device=device).unsqueeze(1)
    n = X.shape[0]
    batches = (n + params["batchSize"] - 1) // params["batchSize"]
    total = params["epochs"] * batches

    model = build(X.shape[1], params["hidden"]).to(device)
    optimiser = torch.optim.Adam(model.parameters(), lr=params["learningRate"])
    shuffle = torch.Generator().manual_seed(params["seed"])  # CPU generator: same order on CPU and GPU
    loss_fn = torch.nn.BCEWithLogitsLoss()
    step, order = 0, None

    if inputs["resume_from"]:
        ckpt = torch.load(inputs["resume_from"], map_location=device, weights_only=False)
        model.load_state_dict(ckpt["model"])
        optimiser.load_state_dict(ckpt["optimiser"])
        shuffle.set_state(ckpt["shuffle"])
        torch.set_rng_state(ckpt["torch_rng"])
        if use_cuda and ckpt.get("cuda_rng") is not None:
            torch.cuda.set_rng_state_all(ckpt["cuda_rng"])
        np.random.set_state(ckpt["numpy_rng"])
        random.setstate(ckpt["python_rng"])
        step, order = ckpt["step"], ckpt["order"]
        log(f"resumed from step {step}")

    def checkpoint(loss_value):
        buf = io.BytesIO()
        torch.save(
            {
                "step": step,
                "order": order,
                "model": model.state_dict(),
                "optimiser": optimiser.state_dict(),
                "shuffle": shuffle.get_state(),
                "torch_rng": torch.get_rng_state(),
                "cuda_rng": torch.cuda.get_rng_state_all() if use_cuda else None,
                "numpy_rng": np.random.get_state(),
                "python_rng": random.getstate(),
                "loss": loss_value,
            },
            buf,
        )
        path = os.path.join(inputs["checkpoint_dir"], f"step-{step:08d}.pt")
        emit("checkpoint", path=path, step=step, checksum=write_atomically(path, buf.getvalue()))

    every = inputs["checkpoint_every"]
    loss_value = float("nan")
    while step < total:
        if preemption.parent_gone():
            log("worker is gone; stopping")
            return EXIT_PREEMPTED
        position = step % batches
        if position == 0 or order is None:
            order = torch.randperm(n, generator=shuffle)  # the data position: this epoch's order
        idx = order[position * params["batchSize"] : (position + 1) * params["batchSize"]].to(device)
        optimiser.zero_grad()
        loss = loss_fn(model(X[idx]), y[idx])
        loss.backward()
        optimiser.step()
        loss_value = float(loss.item())
        step += 1
        emit("progress", step=step, total=total, metrics={"loss": loss_value})
        if step % every == 0 or step == total:
            checkpoint(loss_value)
        if preemption.requested:
            if step % every != 0 and step != total:
                checkpoint(loss_value)
            log(f"preempted at step {step}; checkpoint written")
            return EXIT_PREEMPTED
        if params["stepDelayMs"]:
            time.sleep(params["stepDelayMs"] / 1000)

    linear = [m for m in model if isinstance(m, torch.nn.Linear)]
    artifact = {
        "kind": "mlp",
        "features": inputs["features"],
        "means": means.tolist(),
        "stds": stds.tolist(),
        "layers": [{"weights": m.weight.detach().cpu().double().tolist(), "bias": m.bias.detach().cpu().double().tolist()} for m in linear],
    }
    path = os.path.join(inputs["output_dir"], "model.json")
    write_atomically(path, json.dumps(artifact).encode())
    emit("done", artifact=path, metrics={"loss": loss_value})
    return 0


if __name__ == "__main__":
    sys.exit(run(parse_params, train))
