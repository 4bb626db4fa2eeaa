"""The seeds' reference CT pipeline as a Prefect 3 flow, for bench/vs-prefect.ts.

fetch window → validate → features → train → evaluate → promote, after the
seeds' `continuous_training_pipeline` (its task retries and training timeout),
on the data and trainer ctloop's loop uses: training runs the same program
(`trainers/python/numpy_trainer.py`, ctloop's `python-numpy`) as a subprocess
with the same protocol environment, and promotion writes a version and a
champion alias into a SQLite registry. With no champion a candidate that
reaches `min_accuracy` on the hold-out rows is promoted, as in ctloop's first
run of a model (approval off; no canary without a champion).

    python ct_flow.py serve NAME LIMIT      serve the flow as deployment NAME
                                            (a long-lived runner, at most LIMIT
                                            flow runs at once)
    python ct_flow.py inprocess CONFIG N    call the flow N times in this
                                            process; prints one JSON line of timings

The process-wide settings (PREFECT_API_URL, PREFECT_HOME, …) come from the
environment the benchmark gives it.
"""

import hashlib
import json
import math
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from contextlib import nullcontext

from prefect import flow, task
from prefect.concurrency.sync import concurrency


@task(retries=2)
def fetch_window(data_uri: str) -> dict:
    """The training window: the whole dataset file, as ctloop's run reads it."""
    with open(data_uri, encoding="utf-8") as f:
        text = f.read()
    lines = [line for line in text.splitlines() if line.strip() != ""]
    return {
        "columns": lines[0].split(","),
        "rows": [line.split(",") for line in lines[1:]],
        "hash": hashlib.sha256(text.encode()).hexdigest(),
    }


@task(retries=2)
def validate_data(window: dict, schema: dict, min_rows: int) -> dict:
    """ctloop's checks: enough rows, every column there, values numeric and in range, no nulls beyond
    the allowed rate, labels 0/1."""
    columns, rows = window["columns"], window["rows"]
    problems = []
    if len(rows) < min_rows:
        problems.append(f"{len(rows)} rows, fewer than {min_rows}")
    for feature in schema["features"]:
        name = feature["name"]
        if name not in columns:
            problems.append(f"column {name} missing")
            continue
        i = columns.index(name)
        nulls = 0
        for row in rows:
            cell = row[i] if i < len(row) else ""
            if cell == "":
                nulls += 1
                continue
            value = float(cell)
            if math.isnan(value) or ("min" in feature and value < feature["min"]) or (
                "max" in feature and value > feature["max"]
            ):
                problems.append(f"{name}: {cell} out of range")
                break
        if rows and nulls / len(rows) > feature.get("maxNullRate", 0):
            problems.append(f"{name}: {nulls} empty cells")
    if schema["label"] not in columns:
        problems.append(f"label {schema['label']} missing")
    else:
        j = columns.index(schema["label"])
        if any(row[j] not in ("0", "1") for row in rows):
            problems.append("labels must be 0 or 1")
    return {"ok": not problems, "problems": problems, "rows": len(rows)}


@task
def compute_features(window: dict, holdout_fraction: float, workdir: str) -> dict:
    """The split ctloop makes: the last share of the rows is the hold-out set; the rest is written as
    the trainer's CSV."""
    rows = window["rows"]
    size = math.ceil(len(rows) * holdout_fraction * (1 - 1e-12))
    cut = len(rows) - size
    train_path = os.path.join(workdir, "train.csv")
    with open(train_path, "w", encoding="utf-8") as f:
        f.write(",".join(window["columns"]) + "\n")
        f.write("\n".join(",".join(row) for row in rows[:cut]) + "\n")
    return {"train_path": train_path, "holdout": rows[cut:]}


@task(timeout_seconds=7200)
def train_model(trainer: dict, train_path: str, schema: dict, params: dict, checkpoint_every: int, workdir: str):
    """Runs the trainer program under the trainer protocol (docs/trainer-protocol.md) and times it."""
    checkpoint_dir = os.path.join(workdir, "checkpoints")
    output_dir = os.path.join(workdir, "output")
    os.makedirs(checkpoint_dir, exist_ok=True)
    os.makedirs(output_dir, exist_ok=True)
    env = {
        **os.environ,
        **trainer.get("env", {}),
        "CTLOOP_DATA": train_path,
        "CTLOOP_FEATURES": json.dumps([f["name"] for f in schema["features"]]),
        "CTLOOP_LABEL": schema["label"],
        "CTLOOP_PARAMS": json.dumps(params),
        "CTLOOP_CHECKPOINT_DIR": checkpoint_dir,
        "CTLOOP_CHECKPOINT_EVERY": str(checkpoint_every),
        "CTLOOP_RESUME_FROM": "",
        "CTLOOP_OUTPUT_DIR": output_dir,
        "CTLOOP_DEVICE": "cpu",
    }
    # Only the trainer gets the bench's trainer clock (trainer_clock/sitecustomize.py).
    for name in ("PYTHONPATH", "CTLOOP_BENCH_TRAINER_LOG"):
        env.pop(name, None)
    env.update(trainer.get("clock_env", {}))
    limit = trainer.get("concurrency_limit")
    started = time.perf_counter()
    with concurrency(limit, occupy=1) if limit else nullcontext():
        acquired = time.perf_counter()
        proc = subprocess.run(
            trainer["command"], cwd=trainer.get("cwd"), env=env, capture_output=True, text=True, check=False
        )
    ended = time.perf_counter()
    done = None
    for line in proc.stdout.splitlines():
        if line.strip():
            message = json.loads(line)
            if message["type"] == "done":
                done = message
    if proc.returncode != 0 or done is None:
        raise RuntimeError(f"trainer exited {proc.returncode}: {proc.stderr[-2000:]}")
    return {
        "artifact": done["artifact"],
        "metrics": done["metrics"],
        "slotWaitMs": (acquired - started) * 1000,
        "subprocessMs": (ended - acquired) * 1000,
    }


@task
def evaluate_candidate(artifact: str, holdout: list, columns: list, schema: dict, min_accuracy: float) -> dict:
    """Accuracy of the candidate on the hold-out rows; with no champion the minimum decides."""
    with open(artifact, encoding="utf-8") as f:
        model = json.load(f)
    index = [columns.index(name) for name in model["features"]]
    j = columns.index(schema["label"])
    correct = 0
    for row in holdout:
        z = model["bias"]
        for k, i in enumerate(index):
            x = float(row[i]) if row[i] != "" else model["means"][k]
            z += model["weights"][k] * (x - model["means"][k]) / model["stds"][k]
        correct += int((z >= 0) == (row[j] == "1"))
    accuracy = correct / len(holdout)
    return {"accuracy": accuracy, "pass": accuracy >= min_accuracy}


@task
def promote_candidate(registry: str, model_name: str, artifact: str, evaluation: dict, data_hash: str) -> int:
    """Copies the artifact into the registry's store, records the version and moves the champion alias."""
    store = os.path.join(os.path.dirname(registry), "artifacts", model_name)
    os.makedirs(store, exist_ok=True)
    db = sqlite3.connect(registry, timeout=30)
    try:
        with db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS versions (model TEXT, version INTEGER, artifact TEXT, "
                "accuracy REAL, data_hash TEXT, created_at REAL, PRIMARY KEY (model, version))"
            )
            db.execute("CREATE TABLE IF NOT EXISTS champions (model TEXT PRIMARY KEY, version INTEGER)")
            (latest,) = db.execute("SELECT COALESCE(MAX(version), 0) FROM versions WHERE model = ?", (model_name,)).fetchone()
            version = latest + 1
            kept = os.path.join(store, f"v{version}.json")
            shutil.copyfile(artifact, kept)
            db.execute(
                "INSERT INTO versions VALUES (?, ?, ?, ?, ?, ?)",
                (model_name, version, kept, evaluation["accuracy"], data_hash, time.time()),
            )
            db.execute("INSERT OR REPLACE INTO champions VALUES (?, ?)", (model_name, version))
    finally:
        db.close()
    return version


@flow(name="continuous-training-pipeline")
def continuous_training_pipeline(model_name: str, config: dict) -> dict:
    workdir = tempfile.mkdtemp(prefix=f"prefect-ct-{model_name}-")
    try:
        window = fetch_window(config["data_uri"])
        validation = validate_data(window, config["schema"], config["min_rows"])
        if not validation["ok"]:
            raise ValueError(f"data quality validation failed: {validation['problems']}")
        features = compute_features(window, config["holdout_fraction"], workdir)
        trained = train_model(
            config["trainer"], features["train_path"], config["schema"], config["params"], config["checkpoint_every"], workdir
        )
        evaluation = evaluate_candidate(
            trained["artifact"], features["holdout"], window["columns"], config["schema"], config["min_accuracy"]
        )
        version = None
        if evaluation["pass"]:
            version = promote_candidate(config["registry"], model_name, trained["artifact"], evaluation, window["hash"])
        return {
            "model": model_name,
            "version": version,
            "accuracy": evaluation["accuracy"],
            "trainerSubprocessMs": trained["subprocessMs"],
            "trainerSlotWaitMs": trained["slotWaitMs"],
        }
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def main(argv):
    if argv[1] == "serve":
        continuous_training_pipeline.serve(name=argv[2], limit=int(argv[3]), print_starting_message=True)
    elif argv[1] == "inprocess":
        with open(argv[2], encoding="utf-8") as f:
            config = json.load(f)
        runs = []
        for i in range(int(argv[3])):
            started = time.time() * 1000
            result = continuous_training_pipeline(f"{config['model_prefix']}-{i}", config)
            runs.append({"startMs": started, "endMs": time.time() * 1000, "result": result})
        print(json.dumps({"runs": runs}))
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
