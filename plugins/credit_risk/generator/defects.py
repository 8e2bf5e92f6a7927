"""`--defects`: every kind of bad delivery and bad row of feeds.md "Bad deliveries".

Bad rows are *extra* lines inserted into regular deliveries (a corrupted copy of
a real row: with a fresh record_id, or — as a bad correction — the same key
right after the good row), so no real record is lost and a wrongly accepted bad
row is detectable. Bad deliveries are extra folders dated the 15th of a month,
holding fresh record_ids, so rejecting them loses nothing. Every fault goes to
the ledger `<landing>.truth/defects.json` with the physical line where its
record starts (header = line 1) and the reason code or delivery outcome the
pipeline must produce.
"""

from __future__ import annotations

import datetime as dt
import decimal
import gzip
import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from credit_risk import feeds as contract
from credit_risk.generator import tables, vec, writer
from credit_risk.generator.context import Context
from credit_risk.generator.params import FORMATS, DefectParams

# row-level kinds -> the quarantine reason code (None: depends on the column type; "orphan": loads)
ROW_KINDS: dict[str, str | None] = {
    "field_count_extra": "field_count",
    "field_count_missing": "field_count",
    "blank_line": "field_count",
    "bad_date": "bad_date",
    "bad_month": "bad_month",
    "bad_int": "bad_number",
    "bad_money": "bad_number",
    "bad_ratio": "bad_ratio",
    "bad_flag": "bad_flag",
    "bad_enum": "bad_enum",
    "required_empty": "required_empty",
    "bad_region_code": "bad_code",
    "bad_industry_code": "bad_code",
    "bad_prefecture_code": "bad_code",
    "bad_uscc": "bad_uscc",
    "bad_id_no": "bad_id_no",
    "surrounding_spaces": None,
    "orphan_uscc": "orphan",
}
KIND_TYPE = {
    "bad_date": contract.DATE,
    "bad_month": contract.MONTH,
    "bad_int": contract.INT,
    "bad_money": contract.MONEY,
    "bad_ratio": contract.RATIO,
    "bad_flag": contract.FLAG,
    "bad_enum": contract.ENUM,
    "bad_region_code": contract.REGION,
    "bad_industry_code": contract.INDUSTRY,
    "bad_prefecture_code": contract.PREFECTURE,
    "bad_uscc": contract.USCC,
    "bad_id_no": contract.ID_NO,
}
BAD_VALUES = {
    "bad_date": ("2024-02-30", "2023-13-01", "2024/03/05", "20240305", "2024-3-5"),
    "bad_month": ("2024-13", "2024-3", "202403", "2024-00"),
    "bad_int": ("12.5", "1,200", "十二", "1e3"),
    "bad_money": ("12.345", "1e5", "¥100", "100.0.0", "1,000.00"),
    "bad_ratio": ("1.2", "85%", "-0.1", "0,85"),
    "bad_flag": ("y", "Yes", "1", "是", "n"),
    "bad_region_code": ("2301", "23010X", "2301020"),
    "bad_industry_code": ("521", "52A1", "52111"),
}
TYPED = frozenset(contract.REASON_FOR_TYPE)
# delivery-level kinds -> expected outcome of the delivery
DELIVERY_KINDS: dict[str, str] = {
    "missing_manifest": "waiting",
    "unreadable_manifest": "rejected",
    "unknown_feed": "rejected",
    "missing_file": "rejected",
    "file_name_slash": "rejected",
    "file_name_dotdot": "rejected",
    "checksum_mismatch": "rejected",
    "row_count_mismatch": "rejected",
    "manifest_folder_mismatch": "rejected",
    "missing_required_column": "rejected",
    "bad_gzip": "rejected",
    "undecodable_bytes": "rejected",
    "unclosed_quote": "rejected",
    "extra_unknown_column": "accepted",
    "unlisted_file": "accepted",
    "non_delivery_folder": "ignored",
    "identical_redelivery": "duplicate",
    "manifest_changed_after_load": "rejected",
}
UNKNOWN_FEED = "business_licences"
# feeds with rows in (almost) every delivery even at tiny scale: the one-per-kind faults go there
DENSE_FEEDS = frozenset(
    {
        "registration",
        "registration_changes",
        "annual_reports",
        "penalties",
        "abnormal_list",
        "inspections",
        "complaints",
        "monthly_returns",
        "social_insurance",
        "loan_performance",
        "utility_bills",
        "inspection_items",
        "inspectors",
    }
)
FRESH_ORG_PREFIX = "MY"  # the population never uses it: orphan usccs cannot collide


def applicable(feed: contract.Feed, kind: str) -> bool:
    types = {c.type for c in feed.all_columns}
    if kind in KIND_TYPE:
        return KIND_TYPE[kind] in types
    if kind == "orphan_uscc":
        return feed.is_event and "uscc" in {c.name for c in feed.columns}
    if kind == "surrounding_spaces":
        return bool(types & TYPED)
    if kind == "required_empty":
        return len(feed.required_columns) > 1
    return True


def plan(ctx: Context, months: list[int], params: DefectParams) -> dict[str, Any]:
    """Where the one-per-kind row faults and the extra-column delivery go (deterministic)."""
    r = vec.rng(ctx.seed, 6000)
    reg_months = ctx.registration_months(months[-1])
    forced: dict[str, list[tuple[int, str]]] = {}
    for kind in ROW_KINDS:
        candidates = [f for f in contract.FEEDS if applicable(f, kind) and f.name in DENSE_FEEDS]
        f = candidates[int(r.integers(0, len(candidates)))]
        if f.mode == "snapshot":
            pool = reg_months[:-1] if f.name == "registration" and len(reg_months) > 1 else reg_months
        else:
            pool = months
        m = pool[int(r.integers(0, len(pool)))]
        forced.setdefault(f.name, []).append((m, kind))
    extra_feed = ("complaints", "penalties", "honors")[int(r.integers(0, 3))]
    return {
        "forced": forced,
        "extra_column": (extra_feed, months[len(months) // 2]),
        "latest_registration": reg_months[-1],
        "row_rate": params.row_rate,
        "orphan_rate": params.orphan_rate,
        "latest_cap": params.latest_registration_bad_rows,
    }


def text_value(v: Any) -> str | None:
    if v is None:
        return None
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, decimal.Decimal):
        return format(v, "f")
    return str(v)


def orphan_uscc(r: np.random.Generator) -> str:
    body = "91" + "230102" + FRESH_ORG_PREFIX + "".join(r.choice(list("0123456789"), 7).tolist())
    arr = np.frombuffer(body.encode(), np.uint8)[None, :]
    return body + chr(vec.uscc_check_chars(arr)[0])


def wrong_check(value: str, alphabet: str) -> str:
    """The same code with a different (hence wrong) check character."""
    good = value[-1]
    return value[:-1] + next(c for c in alphabet if c != good)


class Injector:
    """Adds bad lines to the parts a task writes (a `writer.Writer` hook)."""

    def __init__(self, ctx: Context, the_plan: dict[str, Any]):
        self.ctx = ctx
        self.plan = the_plan
        self.personal: list[str] = []
        self.serial = 0
        self.latest_used = 0
        self.carry: dict[str, list[str]] = {}  # planned faults whose delivery had no rows: the next one

    # -- extra unknown column in one regular delivery
    def extra_columns(self, feed: contract.Feed, date: dt.date, n: int) -> pa.Table | None:
        name, month = self.plan["extra_column"]
        if feed.name != name or vec.month_index(date.strftime("%Y-%m")) != month:
            return None
        return pa.table({"remark": pa.array(["备注：系统导出"] * n, pa.string())})

    def extra_column_entry(self, feed: contract.Feed, date: dt.date) -> dict[str, Any]:
        return {
            "kind": "extra_unknown_column",
            "level": "delivery",
            "department": feed.department,
            "feed": feed.name,
            "delivery": f"{feed.department}/{feed.name}/{writer.folder_name(date)}",
            "file": None,
            "line": None,
            "column": "remark",
            "expected": "accepted",
            "note": "every file has an extra column `remark`: the rows load, the column is reported",
        }

    # -- bad lines
    def __call__(
        self, feed: contract.Feed, date: dt.date, part_no: int, part: pa.Table
    ) -> list[writer.Insertion]:
        month = vec.month_index(date.strftime("%Y-%m"))
        fi = [f.name for f in contract.FEEDS].index(feed.name)
        r = vec.rng(self.ctx.seed, 7000 + fi, month, part_no)
        rows = part.num_rows
        kinds: list[str] = []
        if part_no == 1:
            kinds += self.carry.pop(feed.name, [])
            kinds += [k for m, k in self.plan["forced"].get(feed.name, []) if m == month]
        if rows == 0:
            if kinds:
                self.carry[feed.name] = kinds
            return []
        rand_kinds = [k for k in ROW_KINDS if k != "orphan_uscc" and applicable(feed, k)]
        kinds += [
            rand_kinds[int(i)]
            for i in r.integers(0, len(rand_kinds), r.poisson(self.plan["row_rate"] * rows))
        ]
        if applicable(feed, "orphan_uscc"):
            kinds += ["orphan_uscc"] * int(r.poisson(self.plan["orphan_rate"] * rows))
        if feed.name == "registration" and month == self.plan["latest_registration"]:
            room = max(0, self.plan["latest_cap"] - self.latest_used)
            kinds = kinds[:room]
            self.latest_used += len(kinds)
        return [self.bad_line(feed, part, kind, r) for kind in kinds]

    def bad_line(
        self, feed: contract.Feed, part: pa.Table, kind: str, r: np.random.Generator
    ) -> writer.Insertion:
        cols = list(feed.all_columns)
        names = [c.name for c in cols]
        i = int(r.integers(0, part.num_rows))
        values = [text_value(v) for v in part.slice(i, 1).to_pylist()[0].values()]
        self.serial += 1
        key = feed.key_column
        ki = names.index(key)
        as_correction = feed.is_event and kind not in ("orphan_uscc",) and r.random() < 0.5
        if feed.is_event and not as_correction:
            values[ki] = f"{values[ki]}E{self.serial}"  # a fresh record
            before = i
        else:
            before = i + 1  # right after the good row: a bad correction / later duplicate key
        entry: dict[str, Any] = {"kind": kind, "level": "row", "column": None, "value": None}
        if kind == "blank_line":
            before = i
            text = ""
            entry.update(key=None)
        elif kind == "field_count_extra":
            text = writer.csv_line([*values, "多余字段"])
        elif kind == "field_count_missing":
            text = writer.csv_line(values[:-1])
        else:
            if kind == "required_empty":
                choices = [
                    k for k, c in enumerate(cols) if c.required and c.name != key and c.name != "record_id"
                ]
                col = choices[int(r.integers(0, len(choices)))]
                values[col] = None
            elif kind == "surrounding_spaces":
                choices = [k for k, c in enumerate(cols) if c.type in TYPED and values[k] is not None]
                if not choices:
                    choices = [k for k, c in enumerate(cols) if c.type in TYPED]
                col = choices[int(r.integers(0, len(choices)))]
                base = values[col] if values[col] is not None else _plausible(cols[col])
                values[col] = f" {base}" if r.random() < 0.5 else f"{base} "
            elif kind == "orphan_uscc":
                col = names.index("uscc")
                values[col] = orphan_uscc(r)
            else:
                t = KIND_TYPE[kind]
                choices = [k for k, c in enumerate(cols) if c.type == t]
                col = choices[int(r.integers(0, len(choices)))]
                values[col] = self._corrupt(kind, cols[col], values[col], r)
            entry.update(column=names[col], value=values[col])
            text = writer.csv_line(values)
        reason = ROW_KINDS[kind]
        if kind == "surrounding_spaces":
            reason = contract.REASON_FOR_TYPE[feed.column(entry["column"]).type]
        entry.update(
            key_column=key,
            key=values[ki] if kind != "blank_line" else None,
            correction_of_existing=bool(before == i + 1 and feed.is_event and kind != "blank_line"),
            expected=reason,
        )
        for c, v in zip(cols, values, strict=False):
            if c.personal and v:
                self.personal.append(v)
        if feed.name == "registration_changes" and values[names.index("change_type")] == "legal_rep":
            self.personal += [
                v for v in (values[names.index("before_value")], values[names.index("after_value")]) if v
            ]
        return writer.Insertion(before, text, entry)

    def _corrupt(self, kind: str, col: contract.Column, value: str | None, r: np.random.Generator) -> str:
        if kind in BAD_VALUES:
            if kind == "bad_region_code" and col.type == contract.PREFECTURE:
                return "230101"
            opts = BAD_VALUES[kind]
            return opts[int(r.integers(0, len(opts)))]
        if kind == "bad_prefecture_code":
            return (value or "230100")[:4] + "01"
        if kind == "bad_enum":
            v = value or col.values[0]
            return v.upper() if v.upper() != v and v.upper() not in col.values else v + "x"
        if kind == "bad_uscc":
            return wrong_check(value or orphan_uscc(r), vec.USCC_ALPHABET)
        if kind == "bad_id_no":
            return wrong_check(value or "23010219800101001", "0123456789X")
        raise ValueError(kind)


def _plausible(col: contract.Column) -> str:
    return {
        contract.DATE: "2024-01-15",
        contract.MONTH: "2024-01",
        contract.INT: "3",
        contract.MONEY: "100.00",
        contract.RATIO: "0.9",
        contract.FLAG: "N",
        contract.ENUM: col.values[0] if col.values else "x",
        contract.REGION: "230102",
        contract.PREFECTURE: "230100",
        contract.INDUSTRY: "5212",
    }.get(col.type, "x")


# ---------------------------------------------------------------- delivery-level faults


def _fresh(table: pa.Table, tag: str) -> pa.Table:
    """The sample rows with new record_ids (a wrongly loaded one is then detectable)."""
    ids = [f"{v}{tag}{k}" for k, v in enumerate(table.column("record_id").to_pylist())]
    return tables.replace(table, "record_id", pa.array(ids, pa.string()))


def _write_delivery(
    landing: Path,
    f: contract.Feed,
    date: dt.date,
    table: pa.Table,
    *,
    folder_feed: str | None = None,
    manifest: bool = True,
    mutate: str | None = None,
) -> tuple[str, dict[str, Any], list[str]]:
    """Write a small delivery, applying one fault; returns (folder, manifest dict, record ids)."""
    fmt = FORMATS[f.department]
    feed_name = folder_feed or f.name
    rel = f"{f.department}/{feed_name}/{writer.folder_name(date)}"
    folder = landing / rel
    folder.mkdir(parents=True, exist_ok=True)
    fname = writer.part_name(1, fmt)
    text = writer.render(f, table, fmt).decode("utf-8")
    eol = "\r\n" if fmt.crlf else "\n"
    if mutate == "missing_required_column":
        table = table.drop_columns(["uscc"])
        text = writer.render(f, table, fmt, header=table.column_names).decode("utf-8")
    if mutate == "unclosed_quote":
        lines = text.split(eol)
        lines[-2] = lines[-2].rsplit(",", 1)[0] + ',"N'
        text = eol.join(lines[:-1])  # the file ends inside the open quote
    if mutate == "undecodable_bytes":
        data = text.encode("gb18030" if fmt.encoding == "GB18030" else "utf-8")
        pos = data.index(eol.encode(), data.index(eol.encode()) + 1)  # end of the first data row
        data = data[: pos - 1] + b"\xff\xfe" + data[pos - 1 :]  # invalid in UTF-8 and in GB18030
        if fmt.bom:
            data = b"\xef\xbb\xbf" + data
        raw = gzip.compress(data, compresslevel=1, mtime=0) if fmt.gzip else data
    else:
        raw = writer.encode(text.encode("utf-8"), fmt)
    if mutate == "bad_gzip":
        raw = raw[: len(raw) // 2]
    if mutate == "file_name_slash":
        (folder / "sub").mkdir(exist_ok=True)
        sha = writer.write_bytes(folder / "sub" / fname, raw)
        listed = f"sub/{fname}"
    else:
        sha = writer.write_bytes(folder / fname, raw)
        listed = fname
    if mutate == "file_name_dotdot":
        listed = f"../{fname}"
    files = [writer.FileInfo(listed, table.num_rows, sha)]
    if mutate == "checksum_mismatch":
        files = [writer.FileInfo(listed, table.num_rows, hashlib.sha256(raw + b"x").hexdigest())]
    if mutate == "row_count_mismatch":
        files = [writer.FileInfo(listed, table.num_rows + 2, sha)]
    if mutate == "missing_file":
        files.append(writer.FileInfo(writer.part_name(2, fmt), 5, "0" * 64))
    mdate = date + dt.timedelta(days=1) if mutate == "manifest_folder_mismatch" else date
    man = writer.manifest_dict(f.department, feed_name, f.mode, mdate, fmt.encoding, files)
    if manifest:
        if mutate == "unreadable_manifest":
            writer.write_manifest(folder, json.dumps(man, ensure_ascii=False)[:-7] + "\n")
        else:
            writer.write_manifest(folder, man)
    ids = table.column("record_id").to_pylist() if "record_id" in table.column_names else []
    return rel, man, ids


def deliveries(
    ctx: Context,
    landing: Path,
    truth: Path,
    months: list[int],
    samples: dict[str, pa.Table],
    regular: list[Any],
) -> list[dict[str, Any]]:
    """Write the delivery- and folder-level faults; returns their ledger entries."""
    r = vec.rng(ctx.seed, 6100)
    entries: list[dict[str, Any]] = []
    event_feeds = [f for f in contract.FEEDS if f.is_event and samples.get(f.name) is not None
                   and samples[f.name].num_rows >= 2]  # fmt: skip
    gz_feeds = [f for f in event_feeds if FORMATS[f.department].gzip]
    used: set[str] = set()
    k = 0

    def slot(pool: list[contract.Feed], stride: int = 7) -> tuple[contract.Feed, dt.date]:
        """A (feed, date) for an extra delivery: the 15th (or a later free day) of a recent month."""
        nonlocal k
        f = pool[(k * stride) % len(pool)]
        m = months[-1 - (k % min(12, len(months)))]
        k += 1
        date = vec.month_start(m) + dt.timedelta(days=14)
        while f"{f.key}/{date}" in used:
            date += dt.timedelta(days=1)
        used.add(f"{f.key}/{date}")
        return f, date

    def entry(kind: str, f: contract.Feed, rel: str, file: str | None, ids: list[str], **extra: Any) -> None:
        entries.append(
            {
                "kind": kind,
                "level": "delivery",
                "department": f.department,
                "feed": extra.pop("feed_name", f.name),
                "delivery": rel,
                "file": file,
                "line": None,
                "expected": DELIVERY_KINDS[kind],
                "record_ids": ids,
                **extra,
            }
        )

    simple = [
        "missing_manifest",
        "unreadable_manifest",
        "missing_file",
        "file_name_slash",
        "file_name_dotdot",
        "checksum_mismatch",
        "row_count_mismatch",
        "manifest_folder_mismatch",
        "missing_required_column",
        "undecodable_bytes",
        "unclosed_quote",
    ]
    for kind in simple:
        f, date = slot(event_feeds)
        sample = _fresh(samples[f.name], f"R{len(entries)}")
        rel, _, ids = _write_delivery(
            landing, f, date, sample, manifest=kind != "missing_manifest", mutate=kind
        )
        entry(kind, f, rel, writer.part_name(1, FORMATS[f.department]), ids)
    # a GB18030 department's file with bytes GB18030 cannot decode
    gb = [f for f in event_feeds if FORMATS[f.department].encoding == "GB18030"]
    if gb:
        f, date = slot(gb, 1)
        sample = _fresh(samples[f.name], f"R{len(entries)}")
        rel, _, ids = _write_delivery(landing, f, date, sample, mutate="undecodable_bytes")
        entry("undecodable_bytes", f, rel, writer.part_name(1, FORMATS[f.department]), ids)
    if gz_feeds:
        f, date = slot(gz_feeds, 1)
        sample = _fresh(samples[f.name], f"R{len(entries)}")
        rel, _, ids = _write_delivery(landing, f, date, sample, mutate="bad_gzip")
        entry("bad_gzip", f, rel, writer.part_name(1, FORMATS[f.department]), ids)
    f, date = slot(event_feeds)
    sample = _fresh(samples[f.name], f"R{len(entries)}")
    rel, _, ids = _write_delivery(landing, f, date, sample, folder_feed=UNKNOWN_FEED)
    entry("unknown_feed", f, rel, writer.part_name(1, FORMATS[f.department]), ids, feed_name=UNKNOWN_FEED)

    # files the manifest does not list, inside a regular delivery
    small = [d for d in regular if d.feed not in ("registration",) and d.rows > 0]
    small.sort(key=lambda d: (d.rows, d.folder))
    target = small[int(r.integers(0, max(1, len(small) // 3)))]
    folder = landing / target.folder
    fmt = FORMATS[target.department]
    stray = writer.part_name(99, fmt)
    shutil.copyfile(folder / target.files[0].name, folder / stray)
    (folder / "README.txt").write_text("导出说明：本目录为部门导出文件。\n", encoding="utf-8")
    f = contract.feed(target.department, target.feed)
    entry("unlisted_file", f, target.folder, stray, [], also=["README.txt"])

    # folders that are not deliveries
    (landing / "_incoming").mkdir(exist_ok=True)
    (landing / "_incoming" / "notes.txt").write_text("待上传\n", encoding="utf-8")
    (landing / "samr" / "penalties" / "archive").mkdir(parents=True, exist_ok=True)
    (landing / "samr" / "penalties" / "archive" / "old.csv").write_text("record_id\n", encoding="utf-8")
    for rel in ("_incoming", "samr/penalties/archive"):
        entries.append(
            {"kind": "non_delivery_folder", "level": "folder", "department": None, "feed": None, "delivery": rel,
             "file": None, "line": None, "expected": "ignored"}
        )  # fmt: skip

    # notes for the loader tests: re-delivery of identical bytes, and a manifest changed after loading
    others = [
        d for d in small if d.folder != target.folder and d.feed != "abnormal_list" and d.files[0].rows >= 2
    ]
    redo = others[int(r.integers(0, max(1, len(others) // 3)))]
    copy = truth / "redelivery" / redo.folder
    shutil.copytree(landing / redo.folder, copy, dirs_exist_ok=True)
    f = contract.feed(redo.department, redo.feed)
    entry(
        "identical_redelivery", f, redo.folder, None, [],
        action=f"after a first load, copy {copy.relative_to(truth.parent)} over the delivery folder (identical bytes) "
        "and load again: nothing may change",
    )  # fmt: skip
    changed = [d for d in others if d.folder != redo.folder]
    ch = changed[int(r.integers(0, max(1, len(changed) // 3)))]
    f = contract.feed(ch.department, ch.feed)
    dest = truth / "changed" / ch.folder
    dest.mkdir(parents=True, exist_ok=True)
    man = json.loads((landing / ch.folder / writer.MANIFEST).read_text(encoding="utf-8"))
    # the changed version drops the last data row of the first file
    fmt = FORMATS[ch.department]
    raw = (landing / ch.folder / ch.files[0].name).read_bytes()
    data = gzip.decompress(raw) if fmt.gzip else raw
    eol = b"\r\n" if fmt.crlf else b"\n"
    lines = data.split(eol)
    new = eol.join(lines[:-2]) + eol  # drop the last data row
    new_raw = gzip.compress(new, compresslevel=1, mtime=0) if fmt.gzip else new
    sha = writer.write_bytes(dest / ch.files[0].name, new_raw)
    man["files"][0]["rows"] -= 1
    man["files"][0]["sha256"] = sha
    writer.write_manifest(dest, man)
    entry(
        "manifest_changed_after_load", f, ch.folder, ch.files[0].name, [],
        action=f"after a first load, copy {dest.relative_to(truth.parent)} over the delivery folder "
        "(one row fewer, manifest rewritten) and load again: the delivery must be rejected and reported, "
        "the loaded data unchanged",
    )  # fmt: skip
    return entries
