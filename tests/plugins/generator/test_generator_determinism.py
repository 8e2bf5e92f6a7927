"""Same seed and scale -> identical bytes; --extend adds exactly the next month, deterministically."""

from __future__ import annotations

import shutil
from pathlib import Path

from gen_landing_check import SEED, deliveries, digest, verify_delivery

from credit_risk import feeds as contract
from credit_risk import generator


def test_same_seed_gives_identical_bytes(tiny, tmp_path: Path):
    landing, summary = tiny
    again = tmp_path / "landing"
    # one process instead of two: the bytes may not depend on how tasks are scheduled
    s2 = generator.generate(again, scale="tiny", seed=SEED, through="2025-06", processes=1)
    assert s2["records"] == summary["records"]
    assert digest(again) == digest(landing)
    truth = generator.truth_dir
    for name in ("entities.csv.gz", "personal_data.txt.gz", "state.json"):
        assert (truth(again) / name).read_bytes() == (truth(landing) / name).read_bytes()


def test_another_seed_gives_other_data(tiny, tiny_defects):
    (a, _), (b, _) = tiny, tiny_defects  # seeds 11 and 12
    ea = (generator.truth_dir(a) / "entities.csv.gz").read_bytes()
    eb = (generator.truth_dir(b) / "entities.csv.gz").read_bytes()
    assert ea != eb
    reg = "samr/registration/20250630/part-0001.csv"
    assert (a / reg).read_bytes()[:2000] != (b / reg).read_bytes()[:2000]


def _copy(landing: Path, dest: Path) -> Path:
    shutil.copytree(landing, dest / "landing")
    shutil.copytree(generator.truth_dir(landing), dest / "landing.truth")
    return dest / "landing"


def test_extend_adds_exactly_one_month(tiny, tmp_path: Path):
    landing, _ = tiny
    before = {str(d.folder.relative_to(landing)) for d in deliveries(landing)}
    a = _copy(landing, tmp_path / "a")
    summary = generator.extend(a)
    assert summary["month"] == "2025-07"
    after = {str(d.folder.relative_to(a)) for d in deliveries(a)}
    assert before <= after
    added = sorted(after - before)
    # every incremental feed gets its July delivery; July is no quarter end: no snapshots
    expected = sorted(f"{f.department}/{f.name}/20250731" for f in contract.FEEDS if f.is_event)
    assert added == expected
    for d in deliveries(a):
        if d.date == "20250731":
            verify_delivery(d)
    # pending versions of earlier records (removals, repairs, corrections …) arrive in July
    _, recs = verify_delivery(
        next(d for d in deliveries(a) if d.feed == "abnormal_list" and d.date == "20250731")
    )
    assert recs
    # deterministic: extending an identical copy gives identical bytes
    b = _copy(landing, tmp_path / "b")
    generator.extend(b, processes=1)
    assert digest(a) == digest(b)
    state = (generator.truth_dir(a) / "state.json").read_text()
    assert '"last_month": "2025-07"' in state
    # and the month after continues
    generator.extend(a)
    assert any(d.date == "20250831" for d in deliveries(a))
