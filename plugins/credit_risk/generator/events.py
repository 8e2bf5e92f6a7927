"""Event feeds of samr, tax ratings, hrss wage arrears, court and bizenv, month by month.

Each month draws new records from the entities' latent risk, emits lifecycle
updates that fall due (removals, repairs, resolutions, evaluations, findings)
as later versions of the same `record_id`, and a few per mille corrections and
retractions. Cross-feed links are kept: missing annual reports lead to
abnormal listings, `not_found_at_address` inspections to `unreachable_address`
listings, false reports to `false_info` listings; approved credit repairs
reference the penalty / listing whose `repaired_on` / `removed_on` they set.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from credit_risk.generator import refdata, tables, vec
from credit_risk.generator.context import Context
from credit_risk.generator.params import ENTERPRISE, INDIVIDUAL
from credit_risk.generator.queue import VersionQueue
from credit_risk.generator.writer import Writer

log = logging.getLogger(__name__)

EVENT_FEEDS = (
    "registration_changes",
    "annual_reports",
    "penalties",
    "abnormal_list",
    "serious_dishonesty",
    "inspections",
    "complaints",
    "credit_repairs",
    "credit_ratings",
    "wage_arrears",
    "dishonest_debtors",
    "credit_commitments",
    "honors",
)
PREFIX = {
    "registration_changes": "BG",
    "annual_reports": "NB",
    "penalties": "CF",
    "abnormal_list": "YC",
    "serious_dishonesty": "YZ",
    "inspections": "JC",
    "complaints": "TS",
    "credit_repairs": "XF",
    "credit_ratings": "PJ",
    "wage_arrears": "QX",
    "dishonest_debtors": "SX",
    "credit_commitments": "CN",
    "honors": "RY",
}
SEVERITIES = (
    "warning",
    "fine_small",
    "fine_large",
    "confiscation",
    "license_suspension",
    "license_revocation",
)
RATINGS = ("A", "B", "M", "C", "D")
NEXT_RATING = {"A": "B", "B": "A", "M": "B", "C": "B", "D": "C"}
# Poisson event kinds drawn together each month (superposition, then thinning by rate):
# (kind, RiskModel attribute)
KINDS: tuple[tuple[str, str], ...] = (
    ("penalty", "penalty"),
    ("unreachable_address", "abnormal_unreachable"),
    ("false_info", "abnormal_false_info"),
    ("failure_to_disclose", "abnormal_disclose"),
    ("serious", "serious"),
    ("debtor", "debtor"),
    ("inspection_random", "inspection_random"),
    ("inspection_targeted", "inspection_targeted"),
    ("complaint", "complaint"),
    ("complaint_surge", "complaint_surge"),
    ("legal_rep", "change_legal_rep"),
    ("address", "change_address"),
    ("registered_capital", "change_capital"),
    ("name", "change_name"),
    ("scope", "change_scope"),
    ("other", "change_other"),
    ("commitment", "commitment"),
    ("honor_contract", "honor_contract"),
    ("honor_quality", "honor_quality"),
    ("honor_other", "honor_other"),
    ("wage_arrears", "wage_arrears"),
)
KIND_INDEX = {k: i for i, (k, _) in enumerate(KINDS)}


def _d(x: dt.date) -> int:
    return vec.day_number(x)


def _month_of(days: np.ndarray) -> np.ndarray:
    return vec.days_month_index(days).astype(np.int64)


@dataclass
class Repair:
    """Credit-repair applications to schedule (columns as arrays)."""

    who: np.ndarray
    target_type: str
    target_ids: pa.Array
    applied: np.ndarray
    decided: np.ndarray
    approved: np.ndarray


class EventTask:
    """All event feeds except the monthly ones (they share cross-feed links)."""

    name = "events"

    def __init__(self, ctx: Context):
        self.ctx = ctx
        self.q = {f: VersionQueue(tables.schema(f)) for f in EVENT_FEEDS}
        self.out: dict[str, list[pa.Table]] = {}
        self.month_i = 0
        self._plans: dict[int, np.ndarray] = {}
        self._seq: dict[tuple[str, int], int] = {}
        self.personal: list[pa.Array] = []  # legal-rep before/after values emitted
        self.total_rate = self.kind_rates_total()
        self.events: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def queues(self) -> dict[str, VersionQueue]:
        return self.q

    # ------------------------------------------------------------ helpers
    def rng(self, stream: int) -> np.random.Generator:
        return vec.rng(self.ctx.seed, 5000 + stream, self.month_i)

    def ids(self, feed: str, src: int, n: int) -> pa.Array:
        """New record ids: feed prefix, month, source digit, running number within the month."""
        ym = vec.month_label(self.month_i).replace("-", "")
        start = self._seq.get((feed, src), 0)
        self._seq[(feed, src)] = start + n
        return vec.serial_ids(f"{PREFIX[feed]}{ym}{src}", np.arange(start + 1, start + n + 1), 7)

    def kind_rates(self, who: np.ndarray) -> np.ndarray:
        """(len(who), len(KINDS)) events per entity-year of every Poisson kind."""
        ctx, e = self.ctx, self.ctx.ent
        rm = ctx.params.risk
        out = np.empty((len(who), len(KINDS)), np.float64)
        for k, (_kind, attr) in enumerate(KINDS):
            out[:, k] = ctx.rate(getattr(rm, attr), who)
        legal = KIND_INDEX["legal_rep"]
        out[:, legal] += np.where(e.shell[who] >= 0, rm.shell_legal_rep_changes, 0.0)
        return out

    def kind_rates_total(self) -> np.ndarray:
        """Sum over kinds of kind_rates for every entity (without the n × kinds matrix)."""
        ctx, e = self.ctx, self.ctx.ent
        rm = ctx.params.risk
        total = np.where(e.shell >= 0, rm.shell_legal_rep_changes, 0.0)
        for _, attr in KINDS:
            total += ctx.rate(getattr(rm, attr))
        return total

    def draw_all(self) -> None:
        """This month's Poisson events of every kind: one draw at the total rate, then each
        event gets its kind with probability proportional to the kind's rate (thinning)."""
        e = self.ctx.ent
        r = self.rng(1)
        idx = self.act
        lo = np.maximum(self.S, e.est[idx]).astype(np.int64)
        hi = np.minimum(self.E, e.exit[idx]).astype(np.int64)
        span = np.maximum(0, hi - lo + 1)
        k = r.poisson(self.total_rate[idx] * span / 365.25)
        hit = np.flatnonzero(k)
        k = k[hit]
        who = np.repeat(idx[hit], k)
        day = np.repeat(lo[hit], k) + np.floor(r.random(len(who)) * np.repeat(span[hit], k)).astype(np.int64)
        rates = self.kind_rates(who)
        cum = np.cumsum(rates, axis=1)
        u = r.random(len(who)) * cum[:, -1]
        kind = (u[:, None] >= cum).sum(axis=1).clip(0, len(KINDS) - 1)
        self.events = {}
        for i, (name, _) in enumerate(KINDS):
            sel = np.flatnonzero(kind == i)
            w, d = who[sel], day[sel]
            order = np.lexsort((w, d))
            self.events[name] = (w[order], d[order])

    def emit(self, feed: str, table: pa.Table, due: np.ndarray | int | None = None) -> None:
        """Deliver rows now (due ≤ this month) or schedule them for their due month."""
        if table.num_rows == 0:
            return
        if due is None:
            self.out.setdefault(feed, []).append(table)
            return
        due = np.broadcast_to(np.asarray(due, np.int64), (table.num_rows,))
        now = due <= self.month_i
        if now.all():
            self.out.setdefault(feed, []).append(table)
            return
        if now.any():
            self.out.setdefault(feed, []).append(tables.take(table, np.flatnonzero(now)))
        later = np.flatnonzero(~now)
        self.q[feed].push(tables.take(table, later), due[later])

    def lifecycle(
        self, feed: str, final: pa.Table, change_day: np.ndarray, initial: dict[str, pa.Array]
    ) -> None:
        """Emit records whose later state (change_day, -1 = none) is known now: the initial
        version this month and the final version in the month of change_day."""
        later = change_day > self.E
        settled = np.flatnonzero(~later)
        self.emit(feed, tables.take(final, settled))
        self.fixes(feed, tables.take(final, settled))
        if later.any():
            li = np.flatnonzero(later)
            fin = tables.take(final, li)
            first = fin
            for col, values in initial.items():
                first = tables.replace(first, col, values.take(pa.array(li)))
            self.emit(feed, first)
            self.emit(feed, fin, _month_of(change_day[li]))

    def fixes(self, feed: str, t: pa.Table) -> None:
        """A few per mille of settled records get a correction or a retraction 1–3 months later."""
        if feed == "credit_repairs" or t.num_rows == 0:
            return
        rm = self.ctx.params.risk
        r = self.rng(900 + EVENT_FEEDS.index(feed))
        u = r.random(t.num_rows)
        corr = np.flatnonzero(u < rm.correction_rate)
        retr = np.flatnonzero((u >= rm.correction_rate) & (u < rm.correction_rate + rm.retraction_rate))
        if len(corr):
            self.emit(feed, CORRECT[feed](tables.take(t, corr)), self.month_i + r.integers(1, 4, len(corr)))
        if len(retr):
            self.emit(
                feed, tables.deleted_rows(tables.take(t, retr)), self.month_i + r.integers(1, 4, len(retr))
            )

    def uscc(self, who: np.ndarray) -> pa.Array:
        return self.ctx.ent.uscc_of(who)

    def schedule_repairs(self, rp: Repair) -> None:
        """Applications: `submitted` in the month applied, decided in the month decided."""
        n = len(rp.who)
        if n == 0:
            return
        ids = self.ids("credit_repairs", 0, n)
        status = vec.pick(("rejected", "approved"), rp.approved.astype(np.int64))
        base = {
            "record_id": ids,
            "uscc": self.uscc(rp.who),
            "target_type": vec.pick([rp.target_type], np.zeros(n, np.int64)),
            "target_record_id": rp.target_ids,
            "applied_on": vec.dates(rp.applied),
        }
        final = tables.make(
            "credit_repairs", n, {**base, "status": status, "decided_on": vec.dates(rp.decided)}
        )
        first = tables.make(
            "credit_repairs", n, {**base, "status": vec.pick(["submitted"], np.zeros(n, np.int64))}
        )
        m_app, m_dec = _month_of(rp.applied), _month_of(rp.decided)
        two = np.flatnonzero(m_dec > m_app)
        self.emit("credit_repairs", tables.take(first, two), m_app[two])
        self.emit("credit_repairs", final, m_dec)

    # ------------------------------------------------------------ the month
    def month(self, month: int, writer: Writer) -> None:
        self.month_i = month
        self.S = _d(vec.month_start(month))
        self.E = _d(vec.month_end(month))
        self._seq = {}
        e = self.ctx.ent
        self.act = np.flatnonzero(e.active_in(self.S, self.E))
        self.out = {}
        self.draw_all()
        self.annual_reports()
        self.report_listings()
        self.penalties()
        self.other_listings()
        self.serious()
        self.inspections()
        self.complaints()
        self.changes()
        self.debtors()
        self.commitments()
        self.honors()
        self.ratings()
        self.wage_arrears()
        date = vec.month_end(month)
        for f in EVENT_FEEDS:
            new = self.out.get(f, [])
            due = self.q[f].pop(month)
            writer.deliver(tables.feed(f), date, tables.concat(f, [*new, due]))
        # plans of report years no longer needed
        for y in [y for y in self._plans if y < vec.month_start(month).year - 4]:
            del self._plans[y]

    # ------------------------------------------------------------ annual reports
    def report_plan(self, year: int) -> np.ndarray:
        """Day each entity files its report for `year` (-1: never). Same in every month."""
        if year in self._plans:
            return self._plans[year]
        ctx, e = self.ctx, self.ctx.ent
        rm = ctx.params.risk
        n = e.n
        allidx = np.arange(n)
        eligible = e.est <= _d(dt.date(year, 12, 31))
        # who misses a report is mostly the same entity every year (dormant businesses)
        stable = vec.hash_u01(ctx.seed, 705, allidx, year) < rm.report_missing_persistence
        u = np.where(stable, vec.hash_u01(ctx.seed, 700, allidx), vec.hash_u01(ctx.seed, 700, allidx, year))
        pm = ctx.rate(rm.report_missing)
        pl = ctx.rate(rm.report_late)
        missing = u < pm
        late = ~missing & (u < pm + pl)
        u2 = vec.hash_u01(ctx.seed, 701, allidx, year)
        on_time = _d(dt.date(year + 1, 1, 1)) + np.floor(np.sqrt(u2) * 181).astype(np.int64)
        late_day = _d(dt.date(year + 1, 7, 1)) + np.floor(-np.log1p(-u2) * 110).astype(np.int64)
        filed = np.where(missing, -1, np.where(late, late_day, on_time))
        filed = np.where(eligible & (filed <= e.exit) & (filed >= e.est), filed, -1)
        self._plans[year] = filed
        return filed

    def annual_reports(self) -> None:
        ctx, e = self.ctx, self.ctx.ent
        rm = ctx.params.risk
        year = vec.month_start(self.month_i).year
        parts: list[tuple[np.ndarray, int]] = []
        for y in (year - 3, year - 2, year - 1):
            filed = self.report_plan(y)
            parts.append((np.flatnonzero((filed >= self.S) & (filed <= self.E)), y))
        if self.month_i == ctx.first_month:
            for y in ctx.backlog_years:
                filed = self.report_plan(y)
                parts.insert(0, (np.flatnonzero((filed >= 0) & (filed < self.S)), y))
        who = np.concatenate([p[0] for p in parts]) if parts else np.zeros(0, np.int64)
        years = np.concatenate([np.full(len(p[0]), p[1]) for p in parts]) if parts else np.zeros(0, np.int64)
        n = len(who)
        if n == 0:
            return
        filed = np.empty(n, np.int64)
        for y in np.unique(years):
            sel = years == y
            filed[sel] = self.report_plan(int(y))[who[sel]]
        r = self.rng(10)
        t = e.etype[who]
        emp = np.where(
            t == ENTERPRISE,
            np.round(e.headcount[who] * r.uniform(0.8, 1.25, n)),
            np.where(t == INDIVIDUAL, r.integers(1, 6, n), r.integers(3, 31, n)),
        ).astype(np.int64)
        revenue = e.size[who] * 12 * r.uniform(0.7, 1.3, n)
        # a report found false on a later check: is_false_report turns Y
        u = vec.hash_u01(ctx.seed, 704, who, years)
        false = u < ctx.rate(rm.report_false, who)
        found = np.where(false, filed + r.integers(90, 450, n), -1)
        final = tables.make(
            "annual_reports",
            n,
            {
                "record_id": self.ids("annual_reports", 0, n),
                "uscc": self.uscc(who),
                "report_year": pa.array(years, pa.int64()),
                "filed_on": vec.dates(filed),
                "employees": pa.array(emp, pa.int64(), mask=r.random(n) < 0.05),
                "revenue": vec.money(np.round(revenue * 100).astype(np.int64), valid=r.random(n) >= 0.1),
                "is_false_report": vec.flags(false),
            },
        )
        self.lifecycle("annual_reports", final, found, {"is_false_report": vec.flags(np.zeros(n, bool))})
        # false reports found later lead to a false_info listing (scheduled with the finding)
        fi = np.flatnonzero(false & (r.random(n) < 0.7))
        if len(fi):
            listed = found[fi] + r.integers(0, 30, len(fi))
            self.listing(who[fi], listed, "false_info", src=3, r=r)

    def report_listings(self) -> None:
        """Entities that missed the 30 June deadline are listed in July–September."""
        ctx, e = self.ctx, self.ctx.ent
        moy = self.month_i % 12 + 1
        if moy not in (7, 8, 9):
            return
        y = vec.month_start(self.month_i).year - 1
        filed = self.report_plan(y)
        allidx = np.arange(e.n)
        listing = _d(dt.date(y + 1, 7, 1)) + np.floor(vec.hash_u01(ctx.seed, 702, allidx, y) * 75).astype(
            np.int64
        )
        eligible = e.est <= _d(dt.date(y, 12, 31))
        sel = (
            eligible
            & (listing >= self.S)
            & (listing <= self.E)
            & ((filed < 0) | (filed > listing))
            & (e.est <= listing)
            & (e.exit >= listing)
            & (vec.hash_u01(ctx.seed, 703, allidx, y) < ctx.params.risk.list_missing_report)
        )
        who = np.flatnonzero(sel)
        if len(who) == 0:
            return
        who = who[np.argsort(listing[who], kind="stable")]
        r = self.rng(11)
        removed = np.where(filed[who] > 0, filed[who] + r.integers(1, 21, len(who)), -1)
        removed = np.where(removed > e.exit[who], -1, removed)
        self.listing(who, listing[who], "annual_report_missing", src=0, r=r, removed=removed)

    def listing(
        self,
        who: np.ndarray,
        listed: np.ndarray,
        reason: str,
        src: int,
        r: np.random.Generator,
        removed: np.ndarray | None = None,
    ) -> None:
        """Abnormal-list records (possibly listed in a later month: then scheduled)."""
        n = len(who)
        if n == 0:
            return
        rm = self.ctx.params.risk
        if removed is None:
            z = self.ctx.ent.z[who]
            p_rem = np.clip(rm.abnormal_removal * np.exp(-0.5 * z), 0, 0.95)
            removed = np.where(r.random(n) < p_rem, listed + r.integers(30, 540, n), -1)
        removed = np.where((removed > 0) & (removed <= listed), listed + 1, removed)
        texts = refdata.ABNORMAL_REMOVAL_REASONS[reason]
        why = vec.pick(texts, r.integers(0, len(texts), n))
        # a few removal reasons span two lines (embedded line feed inside a quoted field)
        two_lines = r.random(n) < 0.01
        why = pc.if_else(pa.array(two_lines), vec.join([why, "\n经审核予以移出"]), why)
        has = removed > 0
        final = tables.make(
            "abnormal_list",
            n,
            {
                "record_id": self.ids("abnormal_list", src, n),
                "uscc": self.uscc(who),
                "listed_on": vec.dates(listed),
                "reason": vec.pick([reason], np.zeros(n, np.int64)),
                "removed_on": vec.dates(np.maximum(removed, 0), valid=has),
                "removal_reason": vec.nullify(why, has),
            },
        )
        initial = {"removed_on": pa.nulls(n, pa.date32()), "removal_reason": pa.nulls(n, pa.string())}
        m_list = _month_of(listed)
        later = m_list > self.month_i
        if later.any():
            # listed in a later month: the record waits for that month's delivery, with its
            # removal if that comes in the same month, else the removal follows as a new version
            li = np.flatnonzero(later)
            fin = tables.take(final, li)
            settled = ~has[li] | (_month_of(removed[li]) <= m_list[li])
            self.emit("abnormal_list", tables.take(fin, np.flatnonzero(settled)), m_list[li][settled])
            un = np.flatnonzero(~settled)
            first = tables.take(fin, un)
            for col, values in initial.items():
                first = tables.replace(first, col, values.take(pa.array(li[un])))
            self.emit("abnormal_list", first, m_list[li][un])
            self.emit("abnormal_list", tables.take(fin, un), _month_of(removed[li][un]))
            now = np.flatnonzero(~later)
            final, who, listed, removed, has = (
                tables.take(final, now), who[now], listed[now], removed[now], has[now]
            )  # fmt: skip
            initial = {k: v.take(pa.array(now)) for k, v in initial.items()}
            n = len(now)
        self.lifecycle("abnormal_list", final, np.where(has, removed, -1), initial)
        # part of the removals come through a credit-repair application
        rep = np.flatnonzero(has & (r.random(n) < 0.4) & (removed - listed > 20))
        if len(rep):
            applied = removed[rep] - r.integers(5, 20, len(rep))
            applied = np.maximum(applied, np.maximum(listed[rep] + 1, self.S))
            applied = np.minimum(applied, removed[rep])
            self.schedule_repairs(
                Repair(who[rep], "abnormal_list", final.column("record_id").take(pa.array(rep)).combine_chunks(),
                       applied, removed[rep], np.ones(len(rep), bool))
            )  # fmt: skip

    # ------------------------------------------------------------ penalties and listings
    def penalties(self) -> None:
        ctx, e = self.ctx, self.ctx.ent
        rm = ctx.params.risk
        r = self.rng(20)
        who, day = self.events["penalty"]
        n = len(who)
        if n == 0:
            return
        z = e.z[who]
        w = np.array(rm.severity_weights)[e.etype[who]] * np.exp(np.outer(z, rm.severity_beta))
        cum = np.cumsum(w / w.sum(axis=1, keepdims=True), axis=1)
        sev = (r.random(n)[:, None] > cum).sum(axis=1).clip(0, 5)
        fine = np.select(
            [sev == 1, sev == 2, sev == 3, sev == 4, sev == 5],
            [
                np.round(r.uniform(500, 10_000, n), -2),
                np.round(10 ** r.uniform(4, 5.8, n), -2),
                np.round(10 ** r.uniform(3.5, 5.5, n), -2),
                np.round(10 ** r.uniform(4, 5.5, n), -2),
                np.round(10 ** r.uniform(4, 6, n), -2),
            ],
            0.0,
        )
        has_fine = (sev > 0) & ~((sev >= 4) & (r.random(n) < 0.3))
        publicity = np.where(sev <= 1, vec.add_months_days(day, 3), vec.add_months_days(day, 36))
        publicity = np.where(sev == 1, vec.add_months_days(day, 12), publicity)
        # credit repair: after at least 3 months, more often for low risk, rarely for revocations
        p_rep = np.clip(rm.penalty_repair * np.exp(rm.penalty_repair_beta * z), 0, 0.9) * np.where(
            sev == 5, 0.2, 1.0
        )
        repaired = np.where(
            (sev > 0) & (r.random(n) < p_rep), vec.add_months_days(day, 3) + r.integers(0, 450, n), -1
        )
        ind = e.industry[who]
        division = np.array([int(i.code[:2]) for i in refdata.INDUSTRIES])[ind]
        vt = r.integers(0, len(refdata.VIOLATION_TYPES), n)
        vt = np.where(np.isin(division, [13, 14, 15, 62]) & (r.random(n) < 0.5), 3, vt)
        advertising = np.array([i.code.startswith("725") for i in refdata.INDUSTRIES])[ind]
        vt = np.where(advertising & (r.random(n) < 0.5), 11, vt)
        vt = np.where(np.isin(division, [27]) & (r.random(n) < 0.5), 10, vt)
        vt = np.where(np.isin(division, [34]) & (r.random(n) < 0.5), 9, vt)
        year = vec.month_start(self.month_i).year
        short = vec.pick([pf.short for pf in refdata.PREFECTURES], e.pref[who])
        seq = pc.cast(pa.array((self.month_i % 12) * 10000 + np.arange(1, n + 1)), pa.string())
        decision = vec.join([short, "市监罚〔", str(year), "〕", seq, "号"])
        ids = self.ids("penalties", 0, n)
        final = tables.make(
            "penalties",
            n,
            {
                "record_id": ids,
                "uscc": self.uscc(who),
                "decision_no": decision,
                "decided_on": vec.dates(day),
                "violation_type": vec.pick(refdata.VIOLATION_TYPES, vt),
                "severity": vec.pick(SEVERITIES, sev),
                "fine_amount": vec.money(np.round(fine * 100).astype(np.int64), valid=has_fine),
                "publicity_end_on": vec.dates(publicity, valid=sev > 0),
                "repaired_on": vec.dates(np.maximum(repaired, 0), valid=repaired > 0),
            },
        )
        self.lifecycle("penalties", final, repaired, {"repaired_on": pa.nulls(n, pa.date32())})
        rep = np.flatnonzero(repaired > 0)
        if len(rep):
            applied = np.maximum(repaired[rep] - r.integers(10, 60, len(rep)), day[rep] + 30)
            applied = np.minimum(applied, repaired[rep])
            self.schedule_repairs(
                Repair(
                    who[rep],
                    "penalty",
                    ids.take(pa.array(rep)),
                    applied,
                    repaired[rep],
                    np.ones(len(rep), bool),
                )
            )
        # some applications for penalties that stay unrepaired are rejected
        rej = np.flatnonzero((repaired < 0) & (sev > 0) & (r.random(n) < 0.06))
        if len(rej):
            applied = vec.add_months_days(day[rej], 4) + r.integers(0, 240, len(rej))
            decided = applied + r.integers(15, 45, len(rej))
            self.schedule_repairs(
                Repair(
                    who[rej], "penalty", ids.take(pa.array(rej)), applied, decided, np.zeros(len(rej), bool)
                )
            )

    def other_listings(self) -> None:
        r = self.rng(30)
        for k, reason in enumerate(("unreachable_address", "false_info", "failure_to_disclose")):
            who, day = self.events[reason]
            self.listing(who, day, reason, src=5 + k, r=r)

    def serious(self) -> None:
        ctx = self.ctx
        rm = ctx.params.risk
        r = self.rng(40)
        who, day = self.events["serious"]
        n = len(who)
        if n == 0:
            return
        z = ctx.ent.z[who]
        p_rem = np.clip(rm.serious_removal * np.exp(-0.5 * z), 0, 0.9)
        removed = np.where(r.random(n) < p_rem, vec.add_months_days(day, 12) + r.integers(0, 700, n), -1)
        ids = self.ids("serious_dishonesty", 0, n)
        final = tables.make(
            "serious_dishonesty",
            n,
            {
                "record_id": ids,
                "uscc": self.uscc(who),
                "listed_on": vec.dates(day),
                "reason": vec.pick(refdata.SERIOUS_REASONS, r.integers(0, len(refdata.SERIOUS_REASONS), n)),
                "removed_on": vec.dates(np.maximum(removed, 0), valid=removed > 0),
            },
        )
        self.lifecycle("serious_dishonesty", final, removed, {"removed_on": pa.nulls(n, pa.date32())})
        rep = np.flatnonzero(removed > 0)
        if len(rep):
            applied = removed[rep] - r.integers(20, 60, len(rep))
            self.schedule_repairs(
                Repair(who[rep], "serious_dishonesty", ids.take(pa.array(rep)), applied, removed[rep],
                       np.ones(len(rep), bool))
            )  # fmt: skip

    # ------------------------------------------------------------ inspections, complaints
    def inspections(self) -> None:
        ctx, e = self.ctx, self.ctx.ent
        rm = ctx.params.risk
        r = self.rng(50)
        w1, d1 = self.events["inspection_random"]
        w2, d2 = self.events["inspection_targeted"]
        who = np.concatenate([w1, w2])
        day = np.concatenate([d1, d2])
        targeted = np.concatenate([np.zeros(len(w1), bool), np.ones(len(w2), bool)])
        order = np.lexsort((who, day))
        who, day, targeted = who[order], day[order], targeted[order]
        n = len(who)
        if n == 0:
            return
        itype = np.where(targeted, np.where(r.random(n) < 0.5, 1, 2), np.where(r.random(n) < 0.8, 0, 3))
        p_nf = ctx.rate(rm.not_found, who)
        p_rf = ctx.rate(rm.refused, who)
        p_pf = ctx.rate(rm.problem_found, who)
        u = r.random(n)
        result = np.where(u < p_nf, 2, np.where(u < p_nf + p_rf, 3, np.where(u < p_nf + p_rf + p_pf, 1, 0)))
        unit = np.where(r.random(n) < 0.7, 0, r.choice(len(refdata.MEMBER_UNITS), n, p=ctx.unit_weights))
        pref = e.pref[who].astype(np.int64)
        insp = self._inspector_ids(unit, pref, r)
        insp = vec.nullify(insp, r.random(n) >= 0.03)
        quarter = vec.pick(
            [f"{vec.month_start(self.month_i).year}Q{(self.month_i % 12) // 3 + 1}"], np.zeros(n, np.int64)
        )
        pref_code = vec.pick([pf.code + "00" for pf in refdata.PREFECTURES], pref)
        plan_task = vec.join([quarter, pref_code, self.uscc(who)], "-")
        ymd = pc.strftime(vec.dates(day), "%Y%m%d")
        ad_hoc = vec.join(["T", ymd, pc.cast(pa.array(10000 + np.arange(n)), pa.string())])
        task_id = pc.if_else(pa.array(targeted), ad_hoc, plan_task)
        final = tables.make(
            "inspections",
            n,
            {
                "record_id": self.ids("inspections", 0, n),
                "uscc": self.uscc(who),
                "task_id": task_id,
                "member_unit": vec.pick([u[0] for u in refdata.MEMBER_UNITS], unit),
                "inspected_on": vec.dates(day),
                "inspection_type": vec.pick(("random", "targeted", "triggered", "joint"), itype),
                "result": vec.pick(
                    ("no_problem", "problem_found", "not_found_at_address", "refused"), result
                ),
                "inspector_ids": insp,
            },
        )
        self.emit("inspections", final)
        self.fixes("inspections", final)
        # not found at the registered address: listed as unreachable within two months
        nf = np.flatnonzero((result == 2) & (r.random(n) < 0.6))
        if len(nf):
            self.listing(who[nf], day[nf] + r.integers(10, 60, len(nf)), "unreachable_address", src=2, r=r)

    def _inspector_ids(self, unit: np.ndarray, pref: np.ndarray, r: np.random.Generator) -> pa.Array:
        """Two distinct active inspectors of the unit in the prefecture, `;`-separated."""
        ctx = self.ctx
        ids = ctx.inspectors.column("inspector_id").combine_chunks()
        active = ctx.inspector_active(self.month_i)
        n = len(unit)
        first = np.full(n, -1, np.int64)
        second = np.full(n, -1, np.int64)
        for key in set(zip(unit.tolist(), pref.tolist(), strict=True)):
            pool = ctx.inspector_pool.get(key)
            if pool is None:
                continue
            pool = pool[active[pool]]
            sel = np.flatnonzero((unit == key[0]) & (pref == key[1]))
            m = len(pool)
            if m == 0:
                continue
            i1 = r.integers(0, m, len(sel))
            first[sel] = pool[i1]
            if m > 1:
                second[sel] = pool[(i1 + 1 + r.integers(0, m - 1, len(sel))) % m]
        a = ids.take(pa.array(np.maximum(first, 0)))
        b = ids.take(pa.array(np.maximum(second, 0)))
        both = vec.join([a, b], ";")
        out = pc.if_else(pa.array(second >= 0), both, a)
        return vec.nullify(out, first >= 0)

    def complaints(self) -> None:
        ctx, e = self.ctx, self.ctx.ent
        rm = ctx.params.risk
        r = self.rng(60)
        w1, d1 = self.events["complaint"]
        # surges: a burst of complaints against one entity within the month
        surge = np.unique(self.events["complaint_surge"][0])
        k = r.integers(3, 9, len(surge))
        w2 = np.repeat(surge, k)
        lo = np.maximum(self.S, e.est[w2]).astype(np.int64)
        hi = np.minimum(self.E, e.exit[w2]).astype(np.int64)
        d2 = lo + np.floor(r.random(len(w2)) * np.maximum(1, hi - lo + 1)).astype(np.int64)
        who = np.concatenate([w1, w2])
        day = np.concatenate([d1, d2])
        order = np.lexsort((who, day))
        who, day = who[order], day[order]
        n = len(who)
        if n == 0:
            return
        channel = r.choice(3, n, p=[0.6, 0.3, 0.1])
        sub = r.random(n) < ctx.rate(rm.substantiated, who)
        decided = day + r.integers(5, 50, n)
        final = tables.make(
            "complaints",
            n,
            {
                "record_id": self.ids("complaints", 0, n),
                "uscc": self.uscc(who),
                "received_on": vec.dates(day),
                "channel": vec.pick(("12315", "12345", "other"), channel),
                "category": vec.pick(
                    refdata.COMPLAINT_CATEGORIES, r.integers(0, len(refdata.COMPLAINT_CATEGORIES), n)
                ),
                "substantiated": vec.flags(sub),
            },
        )
        self.lifecycle("complaints", final, decided, {"substantiated": pa.nulls(n, pa.string())})

    # ------------------------------------------------------------ registration changes
    def changes(self) -> None:
        ctx, e = self.ctx, self.ctx.ent
        rm = ctx.params.risk
        r = self.rng(70)
        kinds = (
            ("legal_rep", rm.change_legal_rep),
            ("address", rm.change_address),
            ("registered_capital", rm.change_capital),
            ("name", rm.change_name),
            ("scope", rm.change_scope),
            ("other", rm.change_other),
        )
        parts = []
        for k, (name, _) in enumerate(kinds):
            who, day = self.events[name]
            parts.append((who, day, np.full(len(who), k)))
        who = np.concatenate([p[0] for p in parts])
        day = np.concatenate([p[1] for p in parts])
        kind = np.concatenate([p[2] for p in parts])
        order = np.lexsort((kind, who, day))
        who, day, kind = who[order], day[order], kind[order]
        n = len(who)
        if n == 0:
            return
        before = pa.nulls(n, pa.string())
        after = pa.nulls(n, pa.string())
        # legal representative: a previous person -> the current one (personal data)
        other = r.integers(0, e.n, n)
        rep_now = e.rep_name.take(pa.array(e.person[who]))
        rep_before = e.rep_name.take(pa.array(e.person[other]))
        before = pc.if_else(pa.array(kind == 0), rep_before, before)
        after = pc.if_else(pa.array(kind == 0), rep_now, after)
        self.personal.append(rep_now.filter(pa.array(kind == 0)))
        self.personal.append(rep_before.filter(pa.array(kind == 0)))
        # address and name: another place / name -> the current one
        before = pc.if_else(pa.array(kind == 1), e.address.take(pa.array(other)), before)
        after = pc.if_else(pa.array(kind == 1), e.address.take(pa.array(who)), after)
        before = pc.if_else(pa.array(kind == 3), e.name.take(pa.array(other)), before)
        after = pc.if_else(pa.array(kind == 3), e.name.take(pa.array(who)), after)
        # registered capital: plain decimals; large changes (>= 50 %) more likely for risky entities
        cap = np.maximum(e.capital[who], 10_000_00) / 100.0
        large = r.random(n) < ctx.rate(rm.large_capital_change, who)
        factor = np.where(large, np.where(r.random(n) < 0.5, r.uniform(1.6, 10, n), r.uniform(0.05, 0.45, n)),
                          r.uniform(0.7, 1.4, n))  # fmt: skip
        old_cap = np.round(cap / factor, -3)
        cap_before = pc.cast(pa.array(old_cap.astype(np.int64)), pa.string())
        cap_after = pc.cast(pa.array(np.round(cap).astype(np.int64)), pa.string())
        before = pc.if_else(pa.array(kind == 2), cap_before, before)
        after = pc.if_else(pa.array(kind == 2), cap_after, after)
        scope = vec.pick(("一般项目：技术服务；销售", "许可项目：食品经营", "一般项目：货物进出口", "一般项目：信息咨询服务"),
                         r.integers(0, 4, n))  # fmt: skip
        after = pc.if_else(pa.array(kind == 4), scope, after)
        final = tables.make(
            "registration_changes",
            n,
            {
                "record_id": self.ids("registration_changes", 0, n),
                "uscc": self.uscc(who),
                "change_type": vec.pick(
                    ("legal_rep", "address", "registered_capital", "name", "scope", "other"), kind
                ),
                "changed_on": vec.dates(day),
                "before_value": before,
                "after_value": after,
            },
        )
        self.emit("registration_changes", final)
        self.fixes("registration_changes", final)

    # ------------------------------------------------------------ court, bizenv, tax, hrss
    def debtors(self) -> None:
        ctx, e = self.ctx, self.ctx.ent
        rm = ctx.params.risk
        r = self.rng(80)
        who, day = self.events["debtor"]
        n = len(who)
        if n == 0:
            return
        z = e.z[who]
        p_rem = np.clip(rm.debtor_removal * np.exp(-0.4 * z), 0, 0.95)
        removed = np.where(r.random(n) < p_rem, day + r.integers(30, 540, n), -1)
        year = vec.month_start(self.month_i).year
        court = pc.utf8_slice_codeunits(pc.cast(pa.array(e.region[who]), pa.string()), 2, 6)
        seq = pc.cast(pa.array((self.month_i % 12) * 10000 + np.arange(1, n + 1)), pa.string())
        case_no = vec.join(["（", str(year), "）黑", court, "执", seq, "号"])
        final = tables.make(
            "dishonest_debtors",
            n,
            {
                "record_id": self.ids("dishonest_debtors", 0, n),
                "uscc": self.uscc(who),
                "case_no": case_no,
                "listed_on": vec.dates(day),
                "removed_on": vec.dates(np.maximum(removed, 0), valid=removed > 0),
            },
        )
        self.lifecycle("dishonest_debtors", final, removed, {"removed_on": pa.nulls(n, pa.date32())})

    def commitments(self) -> None:
        ctx = self.ctx
        rm = ctx.params.risk
        r = self.rng(90)
        who, day = self.events["commitment"]
        n = len(who)
        if n == 0:
            return
        broken = r.random(n) < ctx.rate(rm.commitment_broken, who)
        evaluated = day + r.integers(60, 365, n)
        final = tables.make(
            "credit_commitments",
            n,
            {
                "record_id": self.ids("credit_commitments", 0, n),
                "uscc": self.uscc(who),
                "commitment_type": vec.pick(
                    refdata.COMMITMENT_TYPES, r.integers(0, len(refdata.COMMITMENT_TYPES), n)
                ),
                "committed_on": vec.dates(day),
                "status": vec.pick(("kept", "broken"), broken.astype(np.int64)),
                "evaluated_on": vec.dates(evaluated),
            },
        )
        initial = {
            "status": vec.pick(["pending"], np.zeros(n, np.int64)),
            "evaluated_on": pa.nulls(n, pa.date32()),
        }
        self.lifecycle("credit_commitments", final, evaluated, initial)

    def honors(self) -> None:
        ctx, e = self.ctx, self.ctx.ent
        rm = ctx.params.risk
        r = self.rng(100)
        parts = []
        for k, event in ((0, "honor_contract"), (2, "honor_quality"), (4, "honor_other")):
            who, day = self.events[event]
            years = {0: 2, 2: 3, 4: 1}[k]
            valid = vec.add_months_days(day, 12 * years) - 1
            parts.append(
                (
                    who,
                    day,
                    np.full(len(who), k),
                    valid,
                    np.ones(len(who), bool) if k != 4 else r.random(len(who)) < 0.7,
                )
            )
        moy = self.month_i % 12 + 1
        year = vec.month_start(self.month_i).year
        if moy == 3:
            # advertising-alliance members (industry group 725): renewed every March
            ad = np.array([i.code.startswith("725") for i in refdata.INDUSTRIES])[e.industry[self.act]]
            cand = self.act[ad & (e.z[self.act] < 0.5)]
            cand = cand[vec.hash_u01(ctx.seed, 720, cand, year) < rm.ad_alliance]
            day = np.full(len(cand), _d(dt.date(year, 3, 15)))
            day = np.maximum(day, e.est[cand])
            valid = np.full(len(cand), _d(dt.date(year + 1, 3, 31)))
            parts.append((cand, day, np.full(len(cand), 3), valid, np.ones(len(cand), bool)))
        if moy == 5:
            # A-rated taxpayers honoured after the April ratings
            a = self.act[(e.etype[self.act] == ENTERPRISE) & e.cov_rating[self.act]]
            a = a[self.rating_of(a, year - 1) == 0]
            a = a[vec.hash_u01(ctx.seed, 721, a, year) < rm.a_taxpayer_honor]
            day = np.full(len(a), _d(dt.date(year, 5, 20)))
            valid = np.full(len(a), _d(dt.date(year + 1, 5, 19)))
            parts.append((a, day, np.full(len(a), 1), valid, np.ones(len(a), bool)))
        who = np.concatenate([p[0] for p in parts])
        day = np.concatenate([p[1] for p in parts])
        kind = np.concatenate([p[2] for p in parts])
        valid = np.concatenate([p[3] for p in parts])
        has_valid = np.concatenate([p[4] for p in parts])
        order = np.lexsort((who, day))
        who, day, kind, valid, has_valid = who[order], day[order], kind[order], valid[order], has_valid[order]
        n = len(who)
        if n == 0:
            return
        final = tables.make(
            "honors",
            n,
            {
                "record_id": self.ids("honors", 0, n),
                "uscc": self.uscc(who),
                "honor_type": vec.pick(
                    ("contract_abiding", "a_taxpayer", "quality_award", "ad_alliance_member", "other"), kind
                ),
                "awarded_on": vec.dates(day),
                "valid_until": vec.dates(valid, valid=has_valid),
            },
        )
        self.emit("honors", final)
        self.fixes("honors", final)

    def rating_of(self, who: np.ndarray, year: int) -> np.ndarray:
        """Tax credit rating (index into RATINGS) of entities for `year` (M: established that year)."""
        ctx, e = self.ctx, self.ctx.ent
        rm = ctx.params.risk
        stable = vec.normal_ppf(vec.hash_u01(ctx.seed, 730, who))
        yearly = vec.normal_ppf(vec.hash_u01(ctx.seed, 731, who, year))
        score = -e.z[who] + rm.rating_noise * (0.8 * stable + 0.6 * yearly)
        a, b, c = rm.rating_thresholds
        rating = np.where(score > a, 0, np.where(score > b, 1, np.where(score > c, 3, 4)))
        new = e.est[who] > _d(dt.date(year - 1, 12, 31))
        return np.where(new, 2, rating)

    def ratings(self) -> None:
        """Ratings for the previous year, published in April."""
        _ctx, e = self.ctx, self.ctx.ent
        if self.month_i % 12 + 1 != 4:
            return
        year = vec.month_start(self.month_i).year - 1
        who = self.act[e.cov_rating[self.act] & (e.est[self.act] <= _d(dt.date(year, 12, 31)))]
        n = len(who)
        if n == 0:
            return
        ym = vec.month_label(self.month_i).replace("-", "")
        final = tables.make(
            "credit_ratings",
            n,
            {
                "record_id": vec.serial_ids(f"PJ{ym}", who, 8),
                "uscc": self.uscc(who),
                "rating_year": pa.array(np.full(n, year), pa.int64()),
                "rating": vec.pick(RATINGS, self.rating_of(who, year)),
            },
        )
        self.emit("credit_ratings", final)
        self.fixes("credit_ratings", final)

    def wage_arrears(self) -> None:
        ctx, e = self.ctx, self.ctx.ent
        rm = ctx.params.risk
        r = self.rng(110)
        who, day = self.events["wage_arrears"]
        n = len(who)
        if n == 0:
            return
        workers = np.where(r.random(n) < 0.2, r.integers(10, 80, n), r.integers(1, 10, n))
        amount = workers * r.uniform(2500, 15000, n)
        resolved = np.where(r.random(n) < rm.wage_resolved, day + r.integers(15, 200, n), -1)
        year = vec.month_start(self.month_i).year
        short = vec.pick([pf.short for pf in refdata.PREFECTURES], e.pref[who])
        seq = pc.cast(pa.array((self.month_i % 12) * 10000 + np.arange(1, n + 1)), pa.string())
        final = tables.make(
            "wage_arrears",
            n,
            {
                "record_id": self.ids("wage_arrears", 0, n),
                "uscc": self.uscc(who),
                "case_no": vec.join([short, "人社欠薪〔", str(year), "〕", seq, "号"]),
                "opened_on": vec.dates(day),
                "amount": vec.money(np.round(amount * 100).astype(np.int64)),
                "workers_affected": pa.array(workers, pa.int64()),
                "resolved_on": vec.dates(np.maximum(resolved, 0), valid=resolved > 0),
            },
        )
        self.lifecycle("wage_arrears", final, resolved, {"resolved_on": pa.nulls(n, pa.date32())})


# ---------------------------------------------------------------- corrections


def _shift(col: str) -> Callable[[pa.Table], pa.Table]:
    return lambda t: tables.replace(t, col, tables.shift_days(t.column(col), -1))


def _next(col: str, choices: tuple[str, ...]) -> Callable[[pa.Table], pa.Table]:
    def f(t: pa.Table) -> pa.Table:
        vals = t.column(col).to_pylist()
        return tables.replace(
            t,
            col,
            pa.array([choices[(choices.index(v) + 1) % len(choices)] if v in choices else v for v in vals]),
        )

    return f


def _scale(col: str) -> Callable[[pa.Table], pa.Table]:
    def f(t: pa.Table) -> pa.Table:
        vals = t.column(col).to_pylist()
        new = [None if v is None else round(float(v) * 1.05, 2) for v in vals]
        return tables.replace(
            t,
            col,
            vec.money(
                np.array([round((x or 0) * 100) for x in new], np.int64),
                valid=np.array([x is not None for x in new]),
            ),
        )

    return f


def _employees(t: pa.Table) -> pa.Table:
    vals = t.column("employees").to_pylist()
    return tables.replace(t, "employees", pa.array([(v or 0) + 1 for v in vals], pa.int64()))


def _rating(t: pa.Table) -> pa.Table:
    return tables.replace(t, "rating", pa.array([NEXT_RATING[v] for v in t.column("rating").to_pylist()]))


CORRECT: dict[str, Callable[[pa.Table], pa.Table]] = {
    "registration_changes": _shift("changed_on"),
    "annual_reports": _employees,
    "penalties": _next("violation_type", refdata.VIOLATION_TYPES),
    "abnormal_list": _shift("listed_on"),
    "serious_dishonesty": _next("reason", refdata.SERIOUS_REASONS),
    "inspections": _shift("inspected_on"),
    "complaints": _next("category", refdata.COMPLAINT_CATEGORIES),
    "credit_ratings": _rating,
    "wage_arrears": _scale("amount"),
    "dishonest_debtors": _shift("listed_on"),
    "credit_commitments": _next("commitment_type", refdata.COMMITMENT_TYPES),
    "honors": _shift("awarded_on"),
}

__all__ = ["EVENT_FEEDS", "EventTask"]
