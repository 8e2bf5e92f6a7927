"""A fast approximate reference scorer for calibrating the generator.

Reads a generated landing zone the way the warehouse contract describes it
(latest version per record_id wins, retractions dropped, latest registration
snapshot), computes the 44 indicators of indicators.md with pandas / numpy in
binary floating point (the real classifier uses exact arithmetic; shares agree
to well under a percentage point), applies the ENT / IND / COOP systems and the
rules R0–R6, and reports class shares and the D share per latent-risk decile
(from `<landing>.truth/entities.csv.gz`).

    python -m credit_risk.generator.calibration LANDING [--as-of YYYY-MM-DD]

Meant for clean landing zones at small or medium scale; rows that do not parse
are skipped, not quarantined.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import io
import json
import sys
import unicodedata
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pcsv

from credit_risk import feeds as contract
from credit_risk.generator import refdata

WEIGHTS = {  # BAS OPS REG FIN SOC EVA
    "enterprise": (0.10, 0.15, 0.30, 0.15, 0.20, 0.10),
    "individual": (0.10, 0.20, 0.35, 0.10, 0.10, 0.15),
    "cooperative": (0.15, 0.25, 0.30, 0.10, 0.10, 0.10),
}
LEVEL2: dict[str, dict[str, tuple[str, ...]]] = {
    "BAS": {"BAS1": ("I01", "I02"), "BAS2": ("I03", "I04", "I05"), "BAS3": ("I06",)},
    "OPS": {"OPS1": ("I07", "I08", "I09"), "OPS2": ("I10", "I11", "I12"), "OPS3": ("I13", "I14")},
    "REG": {
        "REG1": ("I15", "I16", "I17"),
        "REG2": ("I18", "I19"),
        "REG3": ("I20", "I21"),
        "REG4": ("I22", "I23"),
    },
    "FIN": {"FIN1": ("I24", "I25"), "FIN2": ("I26", "I27"), "FIN3": ("I28", "I29")},
    "SOC": {"SOC1": ("I30", "I31", "I32"), "SOC2": ("I33", "I34", "I35"), "SOC3": ("I36", "I37")},
    "EVA": {"EVA1": ("I38", "I39", "I40"), "EVA2": ("I41", "I42"), "EVA3": ("I43",), "EVA4": ("I44",)},
}
SEVERITY_SCORE = {
    "warning": 80,
    "fine_small": 60,
    "fine_large": 30,
    "confiscation": 30,
    "license_suspension": 10,
    "license_revocation": 0,
}
RATING_SCORE = {"A": 100, "B": 85, "M": 70, "C": 40, "D": 0}
CLASSES = ("A", "B", "C", "D")


# ---------------------------------------------------------------- reading


def _read_file(path: Path, encoding: str) -> pa.Table | None:
    raw = path.read_bytes()
    if path.name.endswith(".gz"):
        raw = gzip.decompress(raw)
    text = raw.decode("gb18030" if encoding == "GB18030" else "utf-8-sig")
    opts = pcsv.ReadOptions(autogenerate_column_names=False)
    parse = pcsv.ParseOptions(newlines_in_values=True, invalid_row_handler=lambda row: "skip")
    head = text.split("\n", 1)[0].strip("\r")
    conv = pcsv.ConvertOptions(
        column_types={c: pa.string() for c in head.split(",")},
        strings_can_be_null=True,
        quoted_strings_can_be_null=True,
    )
    return pcsv.read_csv(io.BytesIO(text.encode("utf-8")), read_options=opts, parse_options=parse,
                         convert_options=conv)  # fmt: skip


def read_feed(landing: Path, feed: contract.Feed) -> pd.DataFrame:
    """Current records of a feed: latest version per key (event feeds, retractions dropped) or
    the rows of the latest snapshot (later row wins)."""
    base = landing / feed.department / feed.name
    names = [c.name for c in feed.all_columns]
    frames = []
    folders = sorted(p for p in base.iterdir() if p.is_dir() and p.name.isdigit()) if base.exists() else []
    if feed.mode == "snapshot":
        folders = [p for p in folders if (p / "_manifest.json").exists()][-1:]
    for folder in folders:
        try:
            man = json.loads((folder / "_manifest.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        for f in sorted(man["files"], key=lambda x: x["name"]):
            if "/" in f["name"] or ".." in f["name"]:
                continue
            try:
                t = _read_file(folder / f["name"], man["encoding"])
            except Exception:  # an unreadable delivery loads nothing
                continue
            if t is None or not set(feed.required_columns) <= set(t.column_names):
                continue
            t = t.select([c for c in names if c in t.column_names])
            for c in names:
                if c not in t.column_names:
                    t = t.append_column(c, pa.nulls(t.num_rows, pa.string()))
            t = t.select(names)
            t = t.append_column("_order", pa.array(np.arange(t.num_rows)))
            t = t.append_column("_delivery", pa.array([folder.name] * t.num_rows, pa.string()))
            t = t.append_column("_file", pa.array([f["name"]] * t.num_rows, pa.string()))
            frames.append(t)
    if not frames:
        return pd.DataFrame(columns=names)
    df = pa.concat_tables(frames).to_pandas()
    key = feed.key_column
    df = df.sort_values(["_delivery", "_file", "_order"], kind="stable").drop_duplicates(key, keep="last")
    if feed.is_event:
        df = df[df["deleted"].fillna("N") != "Y"]
    return df.reset_index(drop=True)


def _dates(s: pd.Series) -> pd.Series:
    return pd.to_datetime(s, format="%Y-%m-%d", errors="coerce")


def _num(s: pd.Series) -> pd.Series:
    return pd.to_numeric(s, errors="coerce")


def _minus_months(d: dt.date, months: int) -> pd.Timestamp:
    """PostgreSQL `d - interval 'N months'` (day clamped to the month's length)."""
    y, m = divmod(d.year * 12 + d.month - 1 - months, 12)
    m += 1
    last = (dt.date(y + (m == 12), m % 12 + 1, 1) - dt.timedelta(days=1)).day
    return pd.Timestamp(dt.date(y, m, min(d.day, last)))


def _band(values: pd.Series, edges: list[tuple[float, float]], otherwise: float) -> pd.Series:
    """Map values by `(upper bound exclusive, score)` pairs, in order."""
    out = pd.Series(otherwise, index=values.index, dtype="float64")
    done = pd.Series(False, index=values.index)
    for upper, score in edges:
        hit = ~done & (values < upper)
        out[hit] = score
        done |= hit
    return out


# ---------------------------------------------------------------- scoring


def score(landing: Path, as_of: dt.date) -> pd.DataFrame:
    """Indicators, first-level scores, total, rules and risk class of every active entity."""
    landing = Path(landing)
    ts = pd.Timestamp(as_of)
    d3, d12, d36 = _minus_months(as_of, 3), _minus_months(as_of, 12), _minus_months(as_of, 36)
    F = {f.name: f for f in contract.FEEDS}

    reg = read_feed(landing, F["registration"])
    est = _dates(reg["established_on"])
    changed = _dates(reg["status_changed_on"])
    active = (est <= ts) & ((reg["status"] == "active") | (changed > ts))
    reg = reg[active].copy()
    reg["est"] = est[active]
    reg = reg.set_index("uscc")
    ix = reg.index
    out = pd.DataFrame(index=ix)
    out["entity_type"] = reg["entity_type"]

    def per(df: pd.DataFrame, fn, fill: float) -> pd.Series:  # type: ignore[no-untyped-def]
        if df.empty:
            return pd.Series(fill, index=ix, dtype="float64")
        return fn(df).reindex(ix).astype("float64").fillna(fill)

    # BAS
    years = (ts - reg["est"]).dt.days / 365.25
    out["I01"] = np.minimum(100, 40 + 6 * years)
    cap = _num(reg["registered_capital"])
    out["I02"] = _band(cap, [(1e5, 50), (1e6, 70), (1e7, 85)], 100).where(cap.notna(), 60)
    addr = reg["address"].map(lambda a: "".join(unicodedata.normalize("NFKC", a).split()))
    n_addr = addr.map(addr.value_counts())
    out["I03"] = np.where(n_addr <= 2, 100, np.where(n_addr <= 9, 60, 0))
    n_rep = reg["legal_rep_id_no"].map(reg["legal_rep_id_no"].value_counts())
    out["I04"] = np.where(n_rep <= 2, 100, np.where(n_rep <= 4, 60, 0))
    n_ph = reg["contact_phone"].map(reg["contact_phone"].value_counts())
    out["I05"] = np.where(
        reg["contact_phone"].isna(), 80, np.where(n_ph <= 2, 100, np.where(n_ph <= 9, 60, 0))
    )
    tier = reg["industry_code"].map(refdata.industry_tier)
    out["I06"] = tier.map({"high": 40, "medium": 70, "low": 100})

    # OPS
    ch = read_feed(landing, F["registration_changes"])
    ch["d"] = _dates(ch["changed_on"])
    ch12 = ch[(ch["d"] > d12) & (ch["d"] <= ts)]
    n = per(ch12[ch12["change_type"] == "legal_rep"], lambda d: d.groupby("uscc").size(), 0)
    out["I07"] = np.select([n == 0, n == 1, n == 2], [100, 70, 40], 0)
    n = per(ch12[ch12["change_type"] == "address"], lambda d: d.groupby("uscc").size(), 0)
    out["I08"] = np.select([n == 0, n == 1], [100, 70], 30)
    cc = ch12[ch12["change_type"] == "registered_capital"].copy()
    cc["b"], cc["a"] = _num(cc["before_value"]), _num(cc["after_value"])
    cc = cc[(cc["b"] > 0) & cc["a"].notna()]
    rel = per(cc, lambda d: ((d["a"] - d["b"]).abs() / d["b"]).groupby(d["uscc"]).max(), 0)
    out["I09"] = np.where(rel < 0.5, 100, 30)

    y = as_of.year - 1 if as_of >= dt.date(as_of.year, 6, 30) else as_of.year - 2
    ar = read_feed(landing, F["annual_reports"])
    ar["d"] = _dates(ar["filed_on"])
    ar["y"] = _num(ar["report_year"])
    ar = ar[ar["d"] <= ts]
    first = ar[ar["y"] == y].groupby("uscc")["d"].min().reindex(ix)
    on_time = first <= pd.Timestamp(dt.date(y + 1, 6, 30))
    i10 = np.where(first.isna(), 0, np.where(on_time, 100, 50))
    out["I10"] = np.where(reg["est"] > pd.Timestamp(dt.date(y, 12, 31)), 100, i10)
    est_year = reg["est"].dt.year
    missing = pd.Series(0, index=ix)
    for yy in (y, y - 1, y - 2):
        has = per(ar[ar["y"] == yy], lambda d: d.groupby("uscc").size(), 0) > 0
        missing += ((yy >= est_year) & ~has).astype(int)
    out["I11"] = np.select([missing == 0, missing == 1], [100, 50], 0)
    fr = ar[(ar["y"] >= y - 2) & (ar["y"] <= y) & (ar["is_false_report"] == "Y")]
    out["I12"] = np.where(per(fr, lambda d: d.groupby("uscc").size(), 0) > 0, 0, 100)

    month_last = pd.Period(ts, "M")
    periods = {str(month_last - k) for k in range(12)}

    def monthly(name: str) -> pd.DataFrame:
        df = read_feed(landing, F[name])
        return df[df["period"].isin(periods)].copy()

    pw = monthly("utility_bills")
    pw["kwh"], pw["arr"] = _num(pw["kwh"]), _num(pw["arrears_balance"]).clip(lower=0)
    g = pw.groupby(["uscc", "period"]).agg(kwh=("kwh", "sum"), arr=("arr", "sum")).reset_index()
    has_pw = pd.Series(ix.isin(g["uscc"]), index=ix)
    out["I13"] = np.where(has_pw, 100 * per(g[g["kwh"] > 0], lambda d: d.groupby("uscc").size(), 0) / 12, 60)
    tx = monthly("monthly_returns")
    for c in ("tax_paid", "arrears_balance"):
        tx[c] = _num(tx[c]).fillna(0).clip(lower=0)
    tx["dec"] = tx["declared"] == "Y"
    tx["ab"] = tx["is_abnormal_taxpayer"] == "Y"
    tg = (
        tx.groupby(["uscc", "period"])
        .agg(declared=("dec", "max"), arr=("arrears_balance", "sum"), abn=("ab", "max"))
        .reset_index()
    )
    has_tx = pd.Series(ix.isin(tg["uscc"]), index=ix)
    out["I14"] = np.where(
        has_tx, 100 * per(tg[tg["declared"]], lambda d: d.groupby("uscc").size(), 0) / 12, 60
    )

    # REG
    pe = read_feed(landing, F["penalties"])
    pe["d"], pe["rep"] = _dates(pe["decided_on"]), _dates(pe["repaired_on"])
    pe_all = pe[pe["d"] <= ts]
    pe36 = pe_all[(pe_all["d"] > d36) & ~(pe_all["rep"] <= ts)].copy()
    n = per(pe36, lambda d: d.groupby("uscc").size(), 0)
    out["I15"] = np.select([n == 0, n == 1, n == 2], [100, 60, 30], 0)
    pe36["sv"] = pe36["severity"].map(SEVERITY_SCORE)
    out["I16"] = per(pe36, lambda d: d.groupby("uscc")["sv"].min(), 100)
    pe36["fine"] = _num(pe36["fine_amount"]).fillna(0).clip(lower=0)
    fines = per(pe36, lambda d: d.groupby("uscc")["fine"].sum(), 0)
    out["I17"] = np.where(fines == 0, 100, _band(fines, [(1e4, 80), (1e5, 50), (1e6, 20)], 0))
    revocation = (
        per(pe36[pe36["severity"] == "license_revocation"], lambda d: d.groupby("uscc").size(), 0) > 0
    )

    def listing(name: str) -> tuple[pd.Series, pd.Series, pd.DataFrame]:
        df = read_feed(landing, F[name])
        df["l"], df["r"] = _dates(df["listed_on"]), _dates(df["removed_on"])
        df = df[df["l"] <= ts]
        now = per(df[~(df["r"] <= ts)], lambda d: d.groupby("uscc").size(), 0) > 0
        n36 = per(df[df["l"] > d36], lambda d: d.groupby("uscc").size(), 0)
        return now, n36, df

    ab_now, ab36, ab = listing("abnormal_list")
    out["I18"] = np.where(ab_now, 0, 100)
    out["I19"] = np.select([ab36 == 0, ab36 == 1], [100, 60], 20)
    sd_now, sd36, sd = listing("serious_dishonesty")
    out["I20"] = np.where(sd_now, 0, 100)
    out["I21"] = np.where(sd_now, 0, np.where(sd36 > 0, 50, 100))
    ins = read_feed(landing, F["inspections"])
    ins["d"] = _dates(ins["inspected_on"])
    ins = ins[(ins["d"] > d36) & (ins["d"] <= ts)]
    ins["bad"] = ins["result"].isin(["problem_found", "refused"])
    share = per(ins, lambda d: d.groupby("uscc")["bad"].mean(), np.nan)
    out["I22"] = np.where(share.isna(), 80, 100 * (1 - share))
    nf = per(ins[ins["result"] == "not_found_at_address"], lambda d: d.groupby("uscc").size(), 0)
    out["I23"] = np.where(nf > 0, 0, 100)

    # FIN
    ln = monthly("loan_performance")
    ln["od"] = _num(ln["max_days_overdue"]).clip(lower=0)
    lg = ln.groupby(["uscc", "period"])["od"].max().reset_index()
    mx = per(lg, lambda d: d.groupby("uscc")["od"].max(), np.nan)
    out["I24"] = np.where(mx.isna(), 90, np.select([mx == 0, mx <= 30, mx <= 90], [100, 70, 40], 0))
    mo = per(lg[lg["od"] > 0], lambda d: d.groupby("uscc").size(), 0)
    out["I25"] = np.where(mx.isna(), 90, 100 - 100 * mo / 12)
    db_now, db36, db = listing("dishonest_debtors")
    out["I26"] = np.where(db_now, 0, 100)
    out["I27"] = np.select([db36 == 0, db36 == 1], [100, 40], 0)
    arr_m = per(g[g["arr"] > 0], lambda d: d.groupby("uscc").size(), 0)
    out["I28"] = np.where(has_pw, 100 - 100 * arr_m / 12, 80)
    last_pw = per(g.sort_values("period"), lambda d: d.groupby("uscc")["arr"].last(), 0)
    out["I29"] = np.where(has_pw, np.where(last_pw == 0, 100, _band(last_pw, [(1e3, 70), (1e4, 40)], 0)), 80)

    # SOC
    rt = read_feed(landing, F["credit_ratings"])
    rt["y"] = _num(rt["rating_year"])
    rt = rt[rt["y"] <= as_of.year - 1]
    rt["s"] = rt["rating"].map(RATING_SCORE)
    latest_y = rt.groupby("uscc")["y"].transform("max") if not rt.empty else rt["y"]
    rt = rt[rt["y"] == latest_y]
    rating = per(rt, lambda d: d.groupby("uscc")["s"].min(), np.nan)
    out["I30"] = rating.fillna(60)
    last_tx = per(tg.sort_values("period"), lambda d: d.groupby("uscc")["arr"].last(), 0)
    out["I31"] = np.where(has_tx, np.where(last_tx == 0, 100, _band(last_tx, [(1e4, 70), (1e5, 40)], 0)), 80)
    abn = per(tg[tg["abn"]], lambda d: d.groupby("uscc").size(), 0)
    out["I32"] = np.where(abn > 0, 0, 100)
    si = monthly("social_insurance")
    for c in ("insured_headcount", "amount_due", "amount_paid", "arrears_balance"):
        si[c] = _num(si[c]).clip(lower=0)
    sg = si.groupby(["uscc", "period"])[
        ["insured_headcount", "amount_due", "amount_paid", "arrears_balance"]
    ].sum()
    sg = sg.reset_index().sort_values(["uscc", "period"])
    has_si = pd.Series(ix.isin(sg["uscc"]), index=ix)
    arr_si = per(sg[sg["arrears_balance"] > 0], lambda d: d.groupby("uscc").size(), 0)
    out["I33"] = np.where(has_si, 100 - 100 * arr_si / 12, 70)
    last_hc = per(sg, lambda d: d.groupby("uscc")["insured_headcount"].last(), np.nan)
    cnt = per(sg, lambda d: d.groupby("uscc").size(), 0)
    tot = per(sg, lambda d: d.groupby("uscc")["insured_headcount"].sum(), 0)
    mean_other = (tot - last_hc) / (cnt - 1).where(cnt > 1)
    r = last_hc / mean_other
    i34 = np.select(
        [mean_other.isna(), (mean_other == 0) & (last_hc == 0), mean_other == 0, r >= 0.8, r >= 0.5],
        [70, 70, 100, 100, 60],
        20,
    )
    out["I34"] = np.where(has_si, i34, 70)
    due = per(sg, lambda d: d.groupby("uscc")["amount_due"].sum(), 0)
    paid = per(sg, lambda d: d.groupby("uscc")["amount_paid"].sum(), 0)
    out["I35"] = np.where(has_si, np.where(due == 0, 100, 100 * np.minimum(1, paid / due.where(due > 0))), 70)
    wa = read_feed(landing, F["wage_arrears"])
    wa["o"], wa["r"] = _dates(wa["opened_on"]), _dates(wa["resolved_on"])
    wa = wa[wa["o"] <= ts]
    n = per(wa[wa["o"] > d36], lambda d: d.groupby("uscc").size(), 0)
    out["I36"] = np.select([n == 0, n == 1], [100, 40], 0)
    un = per(wa[~(wa["r"] <= ts)], lambda d: d.groupby("uscc").size(), 0)
    out["I37"] = np.where(un > 0, 0, 100)

    # EVA
    co = read_feed(landing, F["complaints"])
    co["d"] = _dates(co["received_on"])
    co_all = co[co["d"] <= ts]
    c12 = co_all[co_all["d"] > d12]
    n12 = per(c12, lambda d: d.groupby("uscc").size(), 0)
    out["I38"] = np.select([n12 == 0, n12 <= 2, n12 <= 5, n12 <= 10], [100, 80, 50, 20], 0)
    c3 = per(c12[c12["d"] > d3], lambda d: d.groupby("uscc").size(), 0)
    c9 = per(c12[c12["d"] <= d3], lambda d: d.groupby("uscc").size(), 0)
    out["I39"] = np.where((c3 >= 3) & (c3 / 3 >= 3 * c9 / 9), 30, 100)
    dec = c12[c12["substantiated"].isin(["Y", "N"])].copy()
    dec["y"] = dec["substantiated"] == "Y"
    sh = per(dec, lambda d: d.groupby("uscc")["y"].mean(), np.nan)
    out["I40"] = np.where(sh.isna(), 100, 100 * (1 - sh))
    cm = read_feed(landing, F["credit_commitments"])
    cm["e"] = _dates(cm["evaluated_on"])
    cm = cm[(cm["e"] > d36) & (cm["e"] <= ts)]
    nb = per(cm[cm["status"] == "broken"], lambda d: d.groupby("uscc").size(), 0)
    nk = per(cm[cm["status"] == "kept"], lambda d: d.groupby("uscc").size(), 0)
    out["I41"] = np.select([nb == 0, nb == 1], [100, 50], 0)
    out["I42"] = np.select([nk == 0, nk == 1], [60, 80], 100)
    ho = read_feed(landing, F["honors"])
    ho["a"], ho["v"] = _dates(ho["awarded_on"]), _dates(ho["valid_until"])
    ho = ho[(ho["a"] <= ts) & (ho["v"].isna() | (ho["v"] >= ts))]
    nh = per(ho, lambda d: d.groupby("uscc").size(), 0)
    out["I43"] = np.select([nh == 0, nh == 1], [60, 85], 100)
    cr = read_feed(landing, F["credit_repairs"])
    cr["d"] = _dates(cr["decided_on"])
    appr = per(cr[(cr["status"] == "approved") & (cr["d"] > d36) & (cr["d"] <= ts)],
               lambda d: d.groupby("uscc").size(), 0) > 0  # fmt: skip
    ab36_open = ab[(ab["l"] > d36) & ~(ab["r"] <= ts)]
    open_any = (per(pe36, lambda d: d.groupby("uscc").size(), 0) > 0) | (
        per(ab36_open, lambda d: d.groupby("uscc").size(), 0) > 0
    )
    out["I44"] = np.where(appr, 100, np.where(open_any, 40, 100))

    # systems
    for l1, l2s in LEVEL2.items():
        for l2, codes in l2s.items():
            out[l2] = out[list(codes)].mean(axis=1)
        out[l1] = out[list(l2s)].mean(axis=1)
    w = np.array([WEIGHTS[t] for t in out["entity_type"]])
    out["total"] = (out[list(LEVEL2)].to_numpy() * w).sum(axis=1).round(2)
    cls = np.select([out["total"] >= 85, out["total"] >= 75, out["total"] >= 60], [0, 1, 2], 3)
    r1 = sd_now.to_numpy()
    r2 = revocation.to_numpy()
    r3 = db_now.to_numpy()
    r4 = ab_now.to_numpy()
    r5 = (rating == 0).to_numpy()
    ratio = _num(reg["farmer_member_ratio"])
    r6 = ((out["entity_type"] == "cooperative") & (ratio < 0.8)).to_numpy()
    for rule, level in ((r1, 3), (r2, 3), (r3, 2), (r4, 2), (r5, 2), (r6, 2)):
        cls = np.where(rule, np.maximum(cls, level), cls)
    young = ((ts - reg["est"]).dt.days < 183).to_numpy()
    ever = (
        (per(pe_all, lambda d: d.groupby("uscc").size(), 0) > 0)
        | (per(ab, lambda d: d.groupby("uscc").size(), 0) > 0)
        | (per(sd, lambda d: d.groupby("uscc").size(), 0) > 0)
        | (per(db, lambda d: d.groupby("uscc").size(), 0) > 0)
        | (per(co_all[co_all["substantiated"] == "Y"], lambda d: d.groupby("uscc").size(), 0) > 0)
    ).to_numpy()
    r0 = young & ~(r1 | r2 | r3 | r4 | r5 | r6) & ~ever
    cls = np.where(r0, 1, cls)
    out["risk_class"] = np.array(CLASSES)[cls]
    for name, rule in (("R0", r0), ("R1", r1), ("R2", r2), ("R3", r3), ("R4", r4), ("R5", r5), ("R6", r6)):
        out[name] = rule
    return out


def report(landing: Path, as_of: dt.date | None = None) -> dict:
    """Class shares (all types, and per type), rule counts and the D share per latent-risk decile."""
    landing = Path(landing)
    if as_of is None:
        state = json.loads(
            (landing.parent / (landing.name + ".truth") / "state.json").read_text(encoding="utf-8")
        )
        y, m = map(int, state["last_month"].split("-"))
        as_of = dt.date(y + (m == 12), m % 12 + 1, 1) - dt.timedelta(days=1)
    s = score(landing, as_of)
    shares = s["risk_class"].value_counts(normalize=True).reindex(list(CLASSES), fill_value=0)
    by_type = s.groupby("entity_type")["risk_class"].value_counts(normalize=True).unstack(fill_value=0)
    result: dict = {
        "as_of": as_of.isoformat(),
        "scored": int(len(s)),
        "shares": {k: round(float(v), 4) for k, v in shares.items()},
        "by_type": {
            t: {k: round(float(by_type.loc[t].get(k, 0)), 4) for k in CLASSES} for t in by_type.index
        },
        "rules": {r: int(s[r].sum()) for r in ("R0", "R1", "R2", "R3", "R4", "R5", "R6")},
    }
    truth = landing.parent / (landing.name + ".truth") / "entities.csv.gz"
    if truth.exists():
        t = pd.read_csv(truth, dtype={"uscc": str}).set_index("uscc")
        j = s.join(t[["decile"]], how="inner")
        d = j.groupby("decile")["risk_class"].apply(lambda c: float((c == "D").mean()))
        result["d_share_by_decile"] = {int(k): round(v, 4) for k, v in d.items()}
        result["d_rises_with_decile"] = bool(np.all(np.diff(d.to_numpy()) > 0))
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("landing", type=Path)
    p.add_argument("--as-of", type=dt.date.fromisoformat)
    a = p.parse_args(argv)
    print(json.dumps(report(a.landing, a.as_of), indent=1, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
