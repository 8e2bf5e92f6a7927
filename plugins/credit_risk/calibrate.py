"""`credit-risk calibrate`: does the generated data classify like the province's published figures?

Reads the published classes of an as_of and the generator's truth file (latent risk per entity,
outside the landing zone) and prints the class shares against the calibration bands of
indicators.md and the D share per decile of latent risk (it must rise: the signal is real).
"""

from __future__ import annotations

import datetime as dt
import gzip
from pathlib import Path

from credit_risk import db

BANDS = {"A": (65.0, 73.0), "B": (19.0, 25.0), "C": (5.0, 8.0), "D": (1.5, 3.0)}


def class_shares(as_of: dt.date) -> dict[str, float]:
    with db.connect() as c:
        rows = c.execute(
            "select risk_class, 100.0 * count(*) / sum(count(*)) over () from published.risk_classifications "
            "where as_of = %s group by 1",
            (as_of,),
        ).fetchall()
    return {k: float(v) for k, v in rows}


def d_share_by_decile(as_of: dt.date, truth: Path) -> dict[int, float]:
    """D share per latent-risk decile, joining the truth file in the database (COPY, set-based)."""
    with db.connect() as c:
        c.execute("create temp table truth (uscc text, decile int)")
        opener = gzip.open if truth.suffix == ".gz" else open
        with opener(truth, "rt", encoding="utf-8") as fh:
            header = fh.readline().strip().split(",")
            iu, idc = header.index("uscc"), header.index("decile")
            with c.cursor().copy("copy truth (uscc, decile) from stdin") as cp:
                for line in fh:
                    parts = line.rstrip("\n").split(",")
                    cp.write_row((parts[iu], int(parts[idc])))
        rows = c.execute(
            """
            select t.decile, 100.0 * avg((r.risk_class = 'D')::int)
            from published.risk_classifications r join truth t on t.uscc = r.uscc
            where r.as_of = %s group by 1 order by 1
            """,
            (as_of,),
        ).fetchall()
    return {int(d): float(s) for d, s in rows}


def main(landing: Path | None, as_of: dt.date | None) -> int:
    db.start(quiet=True)
    if as_of is None:
        with db.connect() as c:
            row = c.execute(
                "select max(as_of) from published.publications where status = 'published'"
            ).fetchone()
        if not row or row[0] is None:
            print("nothing published yet")
            return 1
        as_of = row[0]
    shares = class_shares(as_of)
    ok = True
    print(f"class shares at {as_of} (all entity types) vs calibration bands:")
    for cls, (lo, hi) in BANDS.items():
        v = shares.get(cls, 0.0)
        inside = lo <= v <= hi
        ok &= inside
        print(f"  {cls}: {v:6.2f}%  band {lo}–{hi}%  {'ok' if inside else 'OUTSIDE'}")
    if landing is not None:
        truth = Path(str(landing) + ".truth") / "entities.csv.gz"
        if truth.exists():
            dec = d_share_by_decile(as_of, truth)
            print("D share per latent-risk decile: " + ", ".join(f"{d}: {s:.2f}%" for d, s in dec.items()))
            values = [dec[k] for k in sorted(dec)]
            rising = all(a <= b for a, b in zip(values, values[1:], strict=False))
            print(f"  rises with every decile: {'yes' if rising else 'NO'}")
            ok &= rising
        else:
            print(f"(no truth file at {truth})")
    return 0 if ok else 1
