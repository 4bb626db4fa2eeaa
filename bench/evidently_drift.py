"""Evidently's side of bench/drift-vs-evidently.ts: the same drift work on the same files.

    python bench/evidently_drift.py REFERENCE.csv CURRENT.csv

Run with the interpreter scripts/ensure-evidently prints. Reads both CSV files
with pandas, then one Evidently Report over every column: DataDriftPreset with
num_method='ks' (scipy.stats.ks_2samp, the two-sample KS p-value per column)
and a ValueDrift(method='psi') per column (PSI; for a numeric column with more
than 20 values Evidently bins both samples on equal-width edges by Sturges'
rule over their union), the two tests
ctloop computes per numeric column. Prints one JSON object on stdout: the
seconds of each phase and the per-column KS p-values and PSI values, so the
caller can check the two implementations agree. Wall and CPU seconds both:
on a shared machine the CPU time is the steadier measure.
"""

import json
import sys
import time

t0 = time.perf_counter()
import pandas as pd  # noqa: E402
from evidently import DataDefinition, Dataset, Report  # noqa: E402
from evidently import __version__ as evidently_version  # noqa: E402
from evidently.metrics import ValueDrift  # noqa: E402
from evidently.presets import DataDriftPreset  # noqa: E402

import_s = time.perf_counter() - t0


def main(reference_path: str, current_path: str) -> None:
    t, cpu = time.perf_counter(), time.process_time()
    reference = pd.read_csv(reference_path)
    current = pd.read_csv(current_path)
    read_s, read_cpu_s = time.perf_counter() - t, time.process_time() - cpu
    columns = list(reference.columns)

    t, cpu = time.perf_counter(), time.process_time()
    definition = DataDefinition(numerical_columns=columns)
    report = Report(
        [DataDriftPreset(num_method="ks")] + [ValueDrift(column=c, method="psi") for c in columns]
    )
    snapshot = report.run(
        Dataset.from_pandas(current, data_definition=definition),
        Dataset.from_pandas(reference, data_definition=definition),
    )
    result = snapshot.dict()
    compute_s, compute_cpu_s = time.perf_counter() - t, time.process_time() - cpu

    ks: dict[str, float] = {}
    psi: dict[str, float] = {}
    for metric in result["metrics"]:
        config = metric["config"]
        if config.get("type") != "evidently:metric_v2:ValueDrift":
            continue
        (ks if config["method"] == "ks" else psi)[config["column"]] = metric["value"]

    json.dump(
        {
            "evidentlyVersion": evidently_version,
            "pandasVersion": pd.__version__,
            "rows": {"reference": len(reference), "current": len(current)},
            "columns": len(columns),
            "importS": import_s,
            "readS": read_s,
            "computeS": compute_s,
            "readCpuS": read_cpu_s,
            "computeCpuS": compute_cpu_s,
            "ksPValue": ks,
            "psi": psi,
        },
        sys.stdout,
    )


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: evidently_drift.py REFERENCE.csv CURRENT.csv")
    main(sys.argv[1], sys.argv[2])
