"""Writes the seeded wide Parquet file of bench/drift-wide.ts (numpy + pyarrow).

    python bench/wide_parquet.py OUT.parquet ROWS COLUMNS SEED SHIFTED

float64 columns x0 … x{COLUMNS-1}, N(0, 1); with SHIFTED=1 every fifth column
is shifted by 0.05 sd and every tenth also scaled by 1.3 (as bench/drift.ts).
Columns are REQUIRED (not nullable): feature columns without nulls, which
hyparquet hands over as Float64Arrays; an OPTIONAL column is assembled value by
value into a JS array with nulls, about 4 times slower to read.
Row groups of 65,536 rows, PLAIN encoding (no dictionary: a million distinct
doubles do not fit one) and no compression: random doubles do not compress,
and ctloop's reader (hyparquet, pure JavaScript) would pay for Snappy without
any gain. Written to OUT.partial, then renamed.
"""

import os
import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq


def main(out: str, rows: int, columns: int, seed: int, shifted: bool) -> None:
    rng = np.random.default_rng(seed)
    names = [f"x{c}" for c in range(columns)]
    shift = np.array([0.05 if shifted and c % 5 == 0 else 0.0 for c in range(columns)])
    scale = np.array([1.3 if shifted and c % 10 == 0 else 1.0 for c in range(columns)])
    schema = pa.schema([pa.field(n, pa.float64(), nullable=False) for n in names])
    group = 65_536
    partial = out + ".partial"
    with pq.ParquetWriter(partial, schema, compression="none", use_dictionary=False) as writer:
        for start in range(0, rows, group):
            n = min(group, rows - start)
            block = rng.standard_normal((columns, n)) * scale[:, None] + shift[:, None]
            writer.write_table(pa.table(list(block), schema=schema), row_group_size=group)
    os.replace(partial, out)


if __name__ == "__main__":
    if len(sys.argv) != 6:
        sys.exit("usage: wide_parquet.py OUT.parquet ROWS COLUMNS SEED SHIFTED")
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5] == "1")
