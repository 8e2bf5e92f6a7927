"""The four monthly feeds: tax returns, social insurance, loan performance, electricity bills.

One record per reporting entity and period. Persistent states (arrears,
overdue loans, dormant months, abnormal taxpayers) are episodes drawn with
counter-based random numbers per (entity, block of months), so any month can be
generated on its own — which is what `extend` does.
"""

from __future__ import annotations

import logging

import numpy as np
import pyarrow as pa

from credit_risk.generator import tables, vec
from credit_risk.generator.context import Context
from credit_risk.generator.params import Episode
from credit_risk.generator.queue import VersionQueue
from credit_risk.generator.writer import Writer

log = logging.getLogger(__name__)

PREFIX = {"monthly_returns": "SB", "social_insurance": "SI", "loan_performance": "XD", "utility_bills": "DF"}
COVERAGE = {
    "monthly_returns": "cov_tax",
    "social_insurance": "cov_si",
    "loan_performance": "cov_loan",
    "utility_bills": "cov_power",
}
STREAM = {"monthly_returns": 100, "social_insurance": 200, "loan_performance": 300, "utility_bills": 400}


def episode(
    ctx: Context, stream: int, ep: Episode, idx: np.ndarray, month: int
) -> tuple[np.ndarray, np.ndarray]:
    """(in the state?, months since the block started) for entities `idx` in `month`."""
    phase = np.floor(vec.hash_u01(ctx.seed, stream + 50, idx) * ep.block).astype(np.int64)
    t = month + phase
    block, pos = t // ep.block, t % ep.block
    p = np.minimum(ep.cap, ep.p * np.exp(ep.beta * ctx.ent.z[idx]))
    return vec.hash_u01(ctx.seed, stream, idx, block) < p, pos


def noise(ctx: Context, stream: int, idx: np.ndarray, key: int) -> np.ndarray:
    return vec.hash_u01(ctx.seed, stream, idx, key)


def reporting(ctx: Context, feed_name: str, month: int) -> np.ndarray:
    """Entities with a record for `month`: covered by the feed and existing during the month."""
    e = ctx.ent
    s, t = vec.day_number(vec.month_start(month)), vec.day_number(vec.month_end(month))
    return np.flatnonzero(getattr(e, COVERAGE[feed_name]) & e.active_in(s, t))


def cents(yuan: np.ndarray) -> np.ndarray:
    return np.round(np.asarray(yuan) * 100).astype(np.int64)


def monthly_returns(ctx: Context, idx: np.ndarray, month: int) -> dict:
    rm = ctx.params.risk
    e = ctx.ent
    s = STREAM["monthly_returns"]
    abnormal, _ = episode(ctx, s + 1, rm.tax_abnormal, idx, month)
    nondecl, _ = episode(ctx, s + 2, rm.tax_nondeclare, idx, month)
    declared = ~(abnormal | nondecl)
    arrears, pos = episode(ctx, s + 3, rm.tax_arrears, idx, month)
    size = e.size[idx]
    tax = size * 0.06 * np.exp(0.4 * vec.normal_ppf(noise(ctx, s + 4, idx, month)))
    exempt = (size < 2e4) & (noise(ctx, s + 5, idx, 0) < 0.5)  # small taxpayers under the threshold
    tax = np.where(exempt, 0.0, tax)
    level = 0.3 + 3.7 * noise(ctx, s + 6, idx, month // 4)
    arrears_amt = np.where(arrears, size * 0.06 * level * (pos + 1) * 3, 0.0)
    arrears_null = ~arrears & (noise(ctx, s + 7, idx, month) < 0.03)
    return {
        "declared": vec.flags(declared),
        "tax_paid": vec.money(cents(tax), valid=declared),
        "arrears_balance": vec.money(cents(arrears_amt), valid=~arrears_null),
        "is_abnormal_taxpayer": vec.flags(abnormal),
    }


def social_insurance(ctx: Context, idx: np.ndarray, month: int) -> dict:
    rm = ctx.params.risk
    e = ctx.ent
    s = STREAM["social_insurance"]
    zero, _ = episode(ctx, s + 1, rm.si_zero, idx, month)
    arrears, pos = episode(ctx, s + 2, rm.si_arrears, idx, month)
    hc = np.round(e.headcount[idx] * (0.9 + 0.2 * noise(ctx, s + 3, idx, month))).astype(np.int64)
    hc = np.where(zero, 0, np.maximum(hc, 1))
    due = hc * 1180.0 * (0.97 + 0.06 * noise(ctx, s + 4, idx, month // 12))
    paid = np.where(arrears, due * 0.7 * noise(ctx, s + 5, idx, month), due)
    bal = np.where(arrears, (due - paid) * (pos + 1), 0.0)
    return {
        "insured_headcount": pa.array(hc, pa.int64()),
        "amount_due": vec.money(cents(due)),
        "amount_paid": vec.money(cents(paid)),
        "arrears_balance": vec.money(cents(bal)),
    }


def loan_performance(ctx: Context, idx: np.ndarray, month: int) -> dict:
    rm = ctx.params.risk
    e = ctx.ent
    s = STREAM["loan_performance"]
    overdue, pos = episode(ctx, s + 1, rm.loan_overdue, idx, month)
    scale = 3 + 27 * noise(ctx, s + 2, idx, 0)
    loans = e.size[idx] * scale * (1.0 - 0.004 * ((month - ctx.first_month) % 24))
    z = e.z[idx]
    u = noise(ctx, s + 3, idx, month // rm.loan_overdue.block)
    p90 = np.minimum(0.6, 0.1 * np.exp(0.8 * z))
    start = np.where(u < p90, 91, np.where(u < p90 + 0.25, 31, 1))
    days = np.where(overdue, start + 30 * pos + np.floor(10 * noise(ctx, s + 4, idx, month)), 0).astype(
        np.int64
    )
    return {"loans_outstanding": vec.money(cents(loans)), "max_days_overdue": pa.array(days, pa.int64())}


def utility_bills(ctx: Context, idx: np.ndarray, month: int) -> dict:
    rm = ctx.params.risk
    e = ctx.ent
    s = STREAM["utility_bills"]
    dormant, _ = episode(ctx, s + 1, rm.power_dormant, idx, month)
    arrears, pos = episode(ctx, s + 2, rm.power_arrears, idx, month)
    season = 1.0 + 0.3 * np.cos((month % 12) / 12 * 2 * np.pi)  # Heilongjiang winters
    kwh = e.size[idx] / 1.5 * season * np.exp(0.15 * vec.normal_ppf(noise(ctx, s + 3, idx, month)))
    kwh = np.where(dormant, 0, np.maximum(1, np.round(kwh))).astype(np.int64)
    billed = kwh * 0.76
    paid = np.where(arrears, billed * 0.6 * noise(ctx, s + 4, idx, month), billed)
    bal = np.where(arrears, (billed - paid) * (pos + 1), 0.0)
    return {
        "kwh": pa.array(kwh, pa.int64()),
        "amount_billed": vec.money(cents(billed)),
        "amount_paid": vec.money(cents(paid)),
        "arrears_balance": vec.money(cents(bal)),
    }


BUILDERS = {
    "monthly_returns": monthly_returns,
    "social_insurance": social_insurance,
    "loan_performance": loan_performance,
    "utility_bills": utility_bills,
}
# the value a correction changes (an amended return, a re-read meter …)
CORRECTED = {
    "monthly_returns": "tax_paid",
    "social_insurance": "amount_paid",
    "loan_performance": "loans_outstanding",
    "utility_bills": "amount_billed",
}


def records(ctx: Context, feed_name: str, month: int) -> pa.Table:
    """All records of one monthly feed for one period."""
    idx = reporting(ctx, feed_name, month)
    n = len(idx)
    cols = BUILDERS[feed_name](ctx, idx, month)
    ym = vec.month_label(month)
    cols["record_id"] = vec.serial_ids(PREFIX[feed_name] + ym.replace("-", ""), idx, 8)
    cols["uscc"] = ctx.ent.uscc_of(idx)
    cols["period"] = vec.pick([ym], np.zeros(n, np.int64))
    return tables.make(feed_name, n, cols)


class MonthlyTask:
    """Generates one monthly feed, month by month."""

    def __init__(self, ctx: Context, feed_name: str):
        self.ctx = ctx
        self.feed_name = feed_name
        self.feed = tables.feed(feed_name)
        self.queue = VersionQueue(tables.schema(feed_name))

    @property
    def name(self) -> str:
        return self.feed_name

    def queues(self) -> dict[str, VersionQueue]:
        return {self.feed_name: self.queue}

    def month(self, month: int, writer: Writer) -> None:
        t = records(self.ctx, self.feed_name, month)
        self._schedule_fixes(t, month)
        due = self.queue.pop(month)
        writer.deliver(self.feed, vec.month_end(month), tables.concat(self.feed_name, [t, due]))

    def _schedule_fixes(self, t: pa.Table, month: int) -> None:
        """A few per mille of records are corrected or retracted 1–3 months later."""
        rm = self.ctx.params.risk
        r = vec.rng(self.ctx.seed, STREAM[self.feed_name] + 90, month)
        u = r.random(t.num_rows)
        corr = np.flatnonzero(u < rm.correction_rate)
        retr = np.flatnonzero((u >= rm.correction_rate) & (u < rm.correction_rate + rm.retraction_rate))
        if len(corr):
            c = tables.take(t, corr)
            col = CORRECTED[self.feed_name]
            old = c.column(col).to_numpy(zero_copy_only=False)
            vals = np.array([float(x) if x is not None else 0.0 for x in old]) * r.uniform(
                0.8, 1.2, len(corr)
            )
            c = tables.replace(c, col, vec.money(cents(vals)))
            self.queue.push(c, month + r.integers(1, 4, len(corr)))
        if len(retr):
            self.queue.push(tables.deleted_rows(tables.take(t, retr)), month + r.integers(1, 4, len(retr)))
