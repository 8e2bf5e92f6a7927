"""Arrow schemas of the feeds (from `credit_risk.feeds`) and table assembly."""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from credit_risk import feeds as contract
from credit_risk.feeds import Feed

ARROW_TYPES: dict[str, pa.DataType] = {
    contract.DATE: pa.date32(),
    contract.INT: pa.int64(),
    contract.MONEY: pa.decimal128(18, 2),
    contract.RATIO: pa.decimal128(5, 4),
}


@cache
def schema(feed_name: str) -> pa.Schema:
    """Arrow schema of a feed's columns in contract order (record_id first, deleted last)."""
    f = contract.FEEDS_BY_NAME[feed_name]
    return pa.schema([pa.field(c.name, ARROW_TYPES.get(c.type, pa.string())) for c in f.all_columns])


def feed(name: str) -> Feed:
    return contract.FEEDS_BY_NAME[name]


def make(feed_name: str, n: int, cols: dict[str, Any]) -> pa.Table:
    """A table of `n` rows: given columns cast to the feed's types, the rest NULL, deleted = N."""
    sch = schema(feed_name)
    arrays = []
    for fld in sch:
        v = cols.get(fld.name)
        if v is None:
            if fld.name == "deleted":
                v = pa.array(np.full(n, "N", dtype=object), pa.string()) if n else pa.array([], pa.string())
            else:
                v = pa.nulls(n, fld.type)
        elif not isinstance(v, pa.Array | pa.ChunkedArray):
            v = pa.array(v, fld.type)
        if v.type != fld.type:
            v = v.cast(fld.type)
        if len(v) != n:
            raise ValueError(f"{feed_name}.{fld.name}: {len(v)} values, expected {n}")
        arrays.append(v)
    return pa.Table.from_arrays(arrays, schema=sch)


def empty(feed_name: str) -> pa.Table:
    return schema(feed_name).empty_table()


def concat(feed_name: str, tables: list[pa.Table]) -> pa.Table:
    tables = [t for t in tables if t.num_rows]
    if not tables:
        return empty(feed_name)
    return pa.concat_tables([t.select(schema(feed_name).names).cast(schema(feed_name)) for t in tables])


def replace(table: pa.Table, name: str, values: pa.Array) -> pa.Table:
    i = table.schema.get_field_index(name)
    return table.set_column(i, table.schema.field(i), values.cast(table.schema.field(i).type))


def deleted_rows(table: pa.Table) -> pa.Table:
    """The same rows as retractions (deleted = Y)."""
    return replace(table, "deleted", pa.array(np.full(table.num_rows, "Y", dtype=object), pa.string()))


def take(table: pa.Table, idx: np.ndarray) -> pa.Table:
    return table.take(pa.array(np.asarray(idx, np.int64)))


def shift_days(arr: pa.Array, days: int) -> pa.Array:
    """date32 array shifted by whole days (nulls stay null)."""
    ints = pc.cast(arr, pa.int32())
    return pc.cast(pc.cast(pc.add(ints, days), pa.int32()), pa.date32())
