"""What every generation task shares: parameters, the timeline and the population."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pyarrow as pa

from credit_risk.generator import population, refdata, vec
from credit_risk.generator.params import HISTORY_MONTHS, REGISTRATION_SNAPSHOTS, SCALES, Params, Rate, Scale


def quarter_end_months(last_month: int, count: int) -> list[int]:
    """The `count` latest quarter-end months (Mar/Jun/Sep/Dec) on or before `last_month`."""
    m = last_month
    while m % 3 != 2:
        m -= 1
    return [m - 3 * k for k in range(count - 1, -1, -1)]


@dataclass
class Context:
    """Shared, read-only state of one generator run."""

    seed: int
    scale: Scale
    params: Params
    anchor: int  # the --through month of the original run: fixes the population
    first_month: int  # first month of history
    ent: population.Entities = field(repr=False)

    @classmethod
    def build(cls, scale: str, seed: int, anchor: int, params: Params) -> Context:
        sc = SCALES[scale]
        horizon = vec.month_end(quarter_end_months(anchor, 1)[0])
        ent = population.build(sc.entities, seed, horizon, params.population)
        return cls(seed, sc, params, anchor, anchor - HISTORY_MONTHS + 1, ent)

    # -- timeline
    def registration_months(self, last_month: int) -> list[int]:
        """Months with a registration snapshot: the last four complete quarters up to the anchor,
        then every later quarter end (added by --extend)."""
        base = quarter_end_months(self.anchor, REGISTRATION_SNAPSHOTS)
        later = [m for m in range(self.anchor + 1, last_month + 1) if m % 3 == 2]
        return base + later

    @cached_property
    def backlog_years(self) -> list[int]:
        """Report years delivered as backlog in the first month: those an as_of in the last 12
        months of history needs (I11 looks at Y, Y-1, Y-2) but that were filed before history starts."""
        as_of_min = vec.month_end(self.anchor - 11)
        y = as_of_min.year - 1 if as_of_min >= dt.date(as_of_min.year, 6, 30) else as_of_min.year - 2
        first_year = vec.month_start(self.first_month).year
        return list(range(y - 2, first_year))

    # -- rates
    def rate(self, r: Rate, idx: np.ndarray | None = None) -> np.ndarray:
        """Events per entity-year (or probability) of every entity (or of `idx`)."""
        e = self.ent
        t = e.etype if idx is None else e.etype[idx]
        z = e.z if idx is None else e.z[idx]
        return np.minimum(r.cap, np.asarray(r.base)[t] * np.exp(r.beta * z))

    # -- reference snapshots shared by tasks
    @cached_property
    def inspectors(self) -> pa.Table:
        """Inspectors per member unit and prefecture (fixed for a seed; activity varies by quarter)."""
        ids, units, prefs = [], [], []
        for u, (code, _, items) in enumerate(refdata.MEMBER_UNITS):
            for k, pf in enumerate(refdata.PREFECTURES):
                if code == "SAMR":
                    count = round(6 + 45 * pf.weight)
                else:
                    count = 2 + round(10 * pf.weight * min(items, 30) / 30)
                for j in range(count):
                    ids.append(f"{code}{pf.code}{j + 1:03d}")
                    units.append(u)
                    prefs.append(k)
        return pa.table(
            {"inspector_id": ids, "unit": np.array(units, np.int16), "pref": np.array(prefs, np.int16)}
        )

    def inspector_active(self, month: int) -> np.ndarray:
        """Active inspectors in a month (about 6 % inactive, changing by quarter)."""
        n = self.inspectors.num_rows
        return vec.hash_u01(self.seed, 901, np.arange(n), month // 3) >= 0.06

    @cached_property
    def inspector_pool(self) -> dict[tuple[int, int], np.ndarray]:
        t = self.inspectors
        unit = t.column("unit").to_numpy()
        pref = t.column("pref").to_numpy()
        pool: dict[tuple[int, int], np.ndarray] = {}
        for i, key in enumerate(zip(unit.tolist(), pref.tolist(), strict=True)):
            pool.setdefault(key, [])  # type: ignore[arg-type]
            pool[key].append(i)  # type: ignore[attr-defined]
        return {k: np.array(v, np.int64) for k, v in pool.items()}

    @cached_property
    def unit_weights(self) -> np.ndarray:
        w = np.array([items for _, _, items in refdata.MEMBER_UNITS], np.float64)
        return w / w.sum()
