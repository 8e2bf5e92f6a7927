"""dbt connects through the project's one warehouse setting and the project parses."""

from __future__ import annotations

import json


def test_dbt_debug_and_parse(fresh_database):
    from credit_risk import dbt_build

    fresh_database("dbt_debug")
    debug = dbt_build.invoke(["debug"])
    assert debug["success"], debug
    parse = dbt_build.invoke(["parse"])
    assert parse["success"], parse
    manifest = json.loads(dbt_build.manifest_path().read_text())
    models = {n["name"] for n in manifest["nodes"].values() if n["resource_type"] == "model"}
    assert {"risk_classifications", "credit_evaluations", "indicator_scores", "level2_scores"} <= models
    assert sum(n.startswith("stg_") for n in models) == 20, "one staging model per feed"
