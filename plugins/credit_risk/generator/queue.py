"""Record versions scheduled for a later delivery (lifecycle updates, corrections, retractions)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

DUE = "_due"


class VersionQueue:
    """Rows of one feed waiting for the delivery of their due month."""

    def __init__(self, schema: pa.Schema):
        self.schema = schema
        self.by_month: dict[int, list[pa.Table]] = {}

    def push(self, table: pa.Table, due: np.ndarray | int) -> None:
        if table.num_rows == 0:
            return
        due_arr = np.broadcast_to(np.asarray(due, np.int64), (table.num_rows,))
        table = table.select(self.schema.names)
        for m in np.unique(due_arr).tolist():
            sel = np.flatnonzero(due_arr == m)
            part = table if len(sel) == table.num_rows else table.take(pa.array(sel))
            self.by_month.setdefault(int(m), []).append(part)

    def pop(self, month: int) -> pa.Table:
        """Remove and return the rows due in `month` (in the order they were pushed)."""
        parts = self.by_month.pop(month, [])
        if not parts:
            return self.schema.empty_table()
        return pa.concat_tables(parts).combine_chunks()

    def __len__(self) -> int:
        return sum(t.num_rows for ts in self.by_month.values() for t in ts)

    def save(self, path: Path) -> None:
        parts = [t.append_column(DUE, pa.array(np.full(t.num_rows, m, np.int32))) for m, ts in
                 sorted(self.by_month.items()) for t in ts]  # fmt: skip
        table = (
            pa.concat_tables(parts) if parts else self.schema.append(pa.field(DUE, pa.int32())).empty_table()
        )
        pq.write_table(table, path)

    def load(self, path: Path) -> None:
        self.by_month = {}
        if not path.exists():
            return
        t = pq.read_table(path)
        if t.num_rows == 0:
            return
        due = t.column(DUE).to_numpy()
        data = t.drop_columns([DUE]).cast(self.schema)
        for m in np.unique(due).tolist():
            self.by_month[int(m)] = [data.filter(pc.equal(t.column(DUE), m))]
