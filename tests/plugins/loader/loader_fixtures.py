"""Hand-made deliveries for the loader tests: valid codes, CSV text, a landing-zone writer.

The deliveries are written here, byte by byte, so every defect of the contract's "Bad deliveries"
table can be produced on purpose (the project's generator is exercised elsewhere).
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import random
from pathlib import Path

from stdnum.cn import ric, uscc

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"

REGISTRATION_HEADER = [
    "uscc",
    "entity_name",
    "entity_type",
    "industry_code",
    "region_code",
    "registered_capital",
    "established_on",
    "status",
    "status_changed_on",
    "address",
    "legal_rep_name",
    "legal_rep_id_no",
    "contact_phone",
    "is_four_new",
    "farmer_member_ratio",
]
PENALTY_HEADER = [
    "record_id",
    "uscc",
    "decision_no",
    "decided_on",
    "violation_type",
    "severity",
    "fine_amount",
    "publicity_end_on",
    "repaired_on",
    "deleted",
]


def make_uscc(rng: random.Random, prefix: str = "92230102") -> str:
    body = prefix + "".join(rng.choice(ALPHABET) for _ in range(9))
    return body + uscc.calc_check_digit(body)


def make_id(rng: random.Random) -> str:
    body = "".join(rng.choice("0123456789") for _ in range(17))
    return body + ric.calc_check_digit(body + "0")


def csv_text(header: list[str], rows: list[list[str | None]], newline: str = "\n") -> str:
    out = io.StringIO()
    w = csv.writer(out, lineterminator=newline)
    w.writerow(header)
    for r in rows:
        w.writerow(["" if v is None else v for v in r])
    return out.getvalue()


def count_records(data: bytes, encoding: str) -> int:
    """Data records of a CSV file as the contract counts them (a blank line is a record)."""
    text = data.decode(encoding)
    return max(sum(1 for _ in csv.reader(io.StringIO(text, newline=""))) - 1, 0)


class Landing:
    """Writes deliveries `<root>/<department>/<feed>/<YYYYMMDD>/` with their manifests."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def deliver(
        self,
        department: str,
        feed: str,
        date: str,
        files: dict[str, str | bytes],
        *,
        encoding: str = "UTF-8",
        rows: dict[str, int] | None = None,
        manifest: dict | None = None,
        write_manifest: bool = True,
        raw_manifest: bytes | None = None,
        mode: str | None = None,
    ) -> Path:
        folder = self.root / department / feed / date
        folder.mkdir(parents=True, exist_ok=True)
        codec = "gb18030" if encoding.upper() == "GB18030" else "utf-8"
        entries = []
        for name, content in files.items():
            data = content if isinstance(content, bytes) else content.encode(codec)
            plain = data
            if name.endswith(".gz") and not isinstance(content, bytes):
                data = gzip.compress(plain)
            (folder / name).write_bytes(data)
            n = (rows or {}).get(name)
            if n is None:
                n = count_records(gzip.decompress(data) if name.endswith(".gz") else data, codec)
            entries.append({"name": name, "rows": n, "sha256": hashlib.sha256(data).hexdigest()})
        doc = {
            "department": department,
            "feed": feed,
            "schema_version": 1,
            "delivery_date": f"{date[:4]}-{date[4:6]}-{date[6:]}",
            "mode": mode
            or ("snapshot" if feed in ("registration", "inspection_items", "inspectors") else "incremental"),
            "encoding": encoding,
            "files": entries,
        }
        doc.update(manifest or {})
        if raw_manifest is not None:
            (folder / "_manifest.json").write_bytes(raw_manifest)
        elif write_manifest:
            (folder / "_manifest.json").write_text(json.dumps(doc, ensure_ascii=False))
        return folder


def people(n: int, seed: int = 7) -> list[dict[str, str]]:
    """Registered entities with personal data that must never reach the warehouse in clear."""
    rng = random.Random(seed)
    surnames = "赵钱孙李周吴郑王冯陈"
    out = []
    for i in range(n):
        out.append(
            {
                "uscc": make_uscc(rng),
                "name": f"哈尔滨市测试商贸有限公司{i:04d}",
                "rep": rng.choice(surnames) + "测试" + "甲乙丙丁戊己庚辛"[i % 8] + f"{i:03d}",
                "id": make_id(rng),
                "phone": f"139{rng.randrange(10**8):08d}",
            }
        )
    return out


def registration_rows(persons: list[dict[str, str]]) -> list[list[str | None]]:
    return [
        [
            p["uscc"],
            p["name"],
            "enterprise",
            "5212",
            "230102",
            "100000.50",
            "2015-06-01",
            "active",
            None,
            f"黑龙江省哈尔滨市道里区测试街{i}号",
            p["rep"],
            p["id"],
            p["phone"],
            "N",
            None,
        ]
        for i, p in enumerate(persons)
    ]
