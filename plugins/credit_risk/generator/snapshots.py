"""Snapshot feeds: registration (quarterly), inspection items and inspectors."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from credit_risk.generator import refdata, tables, vec
from credit_risk.generator.context import Context
from credit_risk.generator.params import COOPERATIVE, INDIVIDUAL, TYPE_NAMES
from credit_risk.generator.population import INDUSTRY_CODES
from credit_risk.generator.queue import VersionQueue
from credit_risk.generator.writer import Writer


def registered(ctx: Context, month: int) -> np.ndarray:
    """Entities in the registry at the end of `month`: every entity established by then."""
    return np.flatnonzero(ctx.ent.est <= vec.day_number(vec.month_end(month)))


def registration(ctx: Context, month: int, idx: np.ndarray | None = None) -> pa.Table:
    """Registration rows as of the last day of `month` (of entities `idx`, default: all registered)."""
    e = ctx.ent
    day = vec.day_number(vec.month_end(month))
    if idx is None:
        idx = registered(ctx, month)
    n = len(idx)
    t = e.etype[idx]
    exited = e.exit[idx] <= day
    status = np.where(exited, e.exit_status[idx], 0)
    take = pa.array(idx)
    person = pa.array(e.person[idx])
    cap = e.capital[idx]
    four = vec.flags(e.four_new[idx], valid=t != INDIVIDUAL)
    bp = e.farmer_bp[idx]
    return tables.make(
        "registration",
        n,
        {
            "uscc": e.uscc.take(take),
            "entity_name": e.name.take(take),
            "entity_type": vec.pick(TYPE_NAMES, t),
            "industry_code": vec.pick(INDUSTRY_CODES, e.industry[idx]),
            "region_code": vec.fixed_strings(vec.digits(e.region[idx], 6)),
            "registered_capital": vec.money(np.maximum(cap, 0), valid=cap >= 0),
            "established_on": vec.dates(e.est[idx]),
            "status": vec.pick(("active", "revoked", "deregistered"), status),
            "status_changed_on": vec.dates(np.where(exited, e.exit[idx], 0), valid=exited),
            "address": e.address.take(take),
            "legal_rep_name": e.rep_name.take(person),
            "legal_rep_id_no": e.rep_id.take(person),
            "contact_phone": e.phone.take(take),
            "is_four_new": four,
            "farmer_member_ratio": vec.ratio(np.maximum(bp, 0), valid=(bp >= 0) & (t == COOPERATIVE)),
        },
    )


# Share of inspection items whose industry_scope is `*`. Each item samples its own population at
# the class ratios, so an all-industry item touches every active entity of its types: at 40 % (the
# first version) the province drew ≈ 56 M item selections a quarter, about 20 per entity.
ALL_INDUSTRY_ITEM_SHARE = 0.03


def inspection_items(ctx: Context) -> pa.Table:
    """The 753 joint-inspection items (联查事项清单) of the 39 member units."""
    r = vec.rng(ctx.seed, 950)
    ids, units, names, scopes, types, key = [], [], [], [], [], []
    divisions = sorted({c[:2] for c in INDUSTRY_CODES})
    type_sets = (
        "enterprise;individual;cooperative",
        "enterprise",
        "enterprise;individual",
        "individual",
        "cooperative",
        "enterprise;cooperative",
    )
    for code, _, count in refdata.MEMBER_UNITS:
        for k in range(count):
            ids.append(f"{code}-{k + 1:03d}")
            units.append(code)
            obj = refdata.ITEM_OBJECTS[int(r.integers(0, len(refdata.ITEM_OBJECTS)))]
            topic = refdata.ITEM_TOPICS[int(r.integers(0, len(refdata.ITEM_TOPICS)))]
            names.append(f"对{obj}{topic}的检查")
            # 一业一查: an item checks one trade; only a few general items (licence display,
            # annual-report publicity …) apply to every industry
            if r.random() < ALL_INDUSTRY_ITEM_SHARE:
                scopes.append("*")
            else:
                m = int(r.integers(1, 5))
                scopes.append(";".join(sorted(r.choice(divisions, m, replace=False).tolist())))
            types.append(type_sets[int(r.choice(len(type_sets), p=[0.5, 0.22, 0.15, 0.05, 0.04, 0.04]))])
            key.append(bool(r.random() < 0.12))
    n = len(ids)
    return tables.make(
        "inspection_items",
        n,
        {
            "item_id": ids,
            "member_unit": units,
            "item_name": names,
            "industry_scope": scopes,
            "entity_types": types,
            "is_key_item": vec.flags(np.array(key)),
        },
    )


def inspectors(ctx: Context, month: int) -> pa.Table:
    t = ctx.inspectors
    n = t.num_rows
    unit = t.column("unit").to_numpy()
    pref = t.column("pref").to_numpy()
    return tables.make(
        "inspectors",
        n,
        {
            "inspector_id": t.column("inspector_id"),
            "member_unit": vec.pick([u[0] for u in refdata.MEMBER_UNITS], unit),
            "region_code": vec.pick([pf.code + "00" for pf in refdata.PREFECTURES], pref),
            "is_active": vec.flags(ctx.inspector_active(month)),
        },
    )


class SnapshotTask:
    """Registration, inspection items and inspectors at each registration month."""

    name = "snapshots"

    def __init__(self, ctx: Context, last_month: int):
        self.ctx = ctx
        self.months = set(ctx.registration_months(last_month))
        self.personal_rows = 0

    def queues(self) -> dict[str, VersionQueue]:
        return {}

    def month(self, month: int, writer: Writer) -> None:
        if month not in self.months:
            return
        date = vec.month_end(month)
        idx = registered(self.ctx, month)
        size = writer.part_rows
        parts = (registration(self.ctx, month, idx[k : k + size]) for k in range(0, max(1, len(idx)), size))
        writer.deliver_parts(tables.feed("registration"), date, parts, len(idx))
        writer.deliver(tables.feed("inspection_items"), date, inspection_items(self.ctx))
        writer.deliver(tables.feed("inspectors"), date, inspectors(self.ctx, month))


__all__ = ["SnapshotTask", "registration", "inspection_items", "inspectors"]
