"""Airflow Assets of the pipeline: downstream DAGs run on data, never on a clock.

- one Asset per feed's raw table, updated when a delivery of that feed loads;
- one Asset for the published results, updated when an as_of is published.
"""

from __future__ import annotations

from airflow.sdk import Asset, AssetAlias

from credit_risk.feeds import FEEDS, MONTHLY_FEEDS

SCHEME = "x-credit-risk"

# Loaded feeds are announced through this alias: the mapped load task only knows at run
# time which feeds it loaded.
RAW_ALIAS = AssetAlias("credit_risk_raw_feeds")


def raw_asset(feed_name: str) -> Asset:
    return Asset(name=f"raw.{feed_name}", uri=f"{SCHEME}://warehouse/raw/{feed_name}", group="raw")


RAW_ASSETS: dict[str, Asset] = {f.name: raw_asset(f.name) for f in FEEDS}
MONTHLY_RAW_ASSETS: list[Asset] = [RAW_ASSETS[n] for n in MONTHLY_FEEDS]

PUBLISHED = Asset(
    name="published.risk_classifications",
    uri=f"{SCHEME}://warehouse/published/risk_classifications",
    group="published",
)
