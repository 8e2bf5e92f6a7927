"""Every tunable number of the generator, in one place.

`RiskModel` is the latent-risk → event-rate mapping: each entity has a latent
risk z (standard normal; shell-company clusters are drawn higher) and every
event rate is `base[type] * exp(beta * z)` per entity-year (or per month for the
monthly feeds' episodes). Calibration (class shares A/B/C/D, D share rising
with the risk decile) is done by changing numbers here only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

ENTERPRISE, INDIVIDUAL, COOPERATIVE = 0, 1, 2
TYPE_NAMES = ("enterprise", "individual", "cooperative")


@dataclass(frozen=True)
class Scale:
    """Size of a generated landing zone."""

    name: str
    entities: int
    part_rows: int  # max data rows per part file (big deliveries are split)


SCALES: dict[str, Scale] = {
    "tiny": Scale("tiny", 2_000, 700),
    "small": Scale("small", 30_000, 10_000),
    "medium": Scale("medium", 300_000, 100_000),
    "full": Scale("full", 3_000_000, 1_000_000),
}

# ≈ 0.8 M enterprises, 2.1 M individual businesses, 0.1 M cooperatives (feeds.md "Scale").
TYPE_SHARES = (0.8 / 3.0, 2.1 / 3.0, 0.1 / 3.0)

HISTORY_MONTHS = 36
REGISTRATION_SNAPSHOTS = 4  # the last four complete quarters


@dataclass(frozen=True)
class Rate:
    """Events per entity-year at z = 0 for (enterprise, individual, cooperative), and the log-rate slope."""

    base: tuple[float, float, float]
    beta: float = 1.0
    cap: float = 6.0  # cap on events per entity-year


@dataclass(frozen=True)
class Episode:
    """A persistent monthly state (arrears, overdue, dormant …): probability per block of months."""

    p: float  # probability of being in the state at z = 0
    beta: float
    block: int  # months per block (episode length)
    cap: float = 0.9


@dataclass(frozen=True)
class Population:
    """Shape of the entity population."""

    mean_age_years: tuple[float, float, float] = (11.0, 9.0, 9.0)
    max_age_years: float = 30.0
    exit_share: tuple[float, float, float] = (0.07, 0.09, 0.10)  # revoked or deregistered by the horizon
    exit_beta: float = 0.6
    future_exit_share: float = 0.02  # exit after the horizon (seen by --extend)
    shell_share_of_enterprises: float = 0.008
    shell_size: tuple[int, int] = (10, 28)
    shell_z: tuple[float, float] = (1.9, 0.5)  # mean, sd of z in shell clusters
    business_centre_share: float = 0.03  # enterprises at a shared address of 3–9
    incubator_share: float = 0.004  # enterprises at a shared address of 10–25 (legitimate)
    agency_phone_share: float = 0.04  # enterprises sharing an accounting agent's phone (3–14)
    family_rep_share: float = 0.03  # entities whose legal rep heads 2–4 entities
    serial_rep_share: float = 0.001  # legal reps of 5–6 entities (legitimate)
    market_share_individual: float = 0.01  # individuals at a shared market address (3–6)
    phone_null: float = 0.08
    landline: float = 0.15
    four_new: float = 0.05  # base share of enterprises; industries add their own
    farmer_ratio_low: float = 0.07  # cooperatives with farmer_member_ratio < 0.8 (at z = 0)
    farmer_ratio_low_beta: float = 0.8
    farmer_ratio_null: float = 0.05
    big_capital_share: float = 0.003  # enterprises with registered capital ≥ 100 M
    # entity-level coverage of the monthly feeds (share of each type that reports)
    cov_tax: tuple[float, float, float] = (0.51, 0.03, 0.22)
    cov_si: tuple[float, float, float] = (0.23, 0.004, 0.04)
    cov_loan: tuple[float, float, float] = (0.065, 0.01, 0.05)
    cov_power: tuple[float, float, float] = (0.175, 0.038, 0.12)
    cov_rating_individual: float = 0.5  # of tax-covered individuals, the share that is rated


@dataclass(frozen=True)
class RiskModel:
    """Latent risk → event rates (per entity-year unless stated)."""

    penalty: Rate = Rate((0.095, 0.085, 0.045), 0.9)
    # severity weights (warning … license_revocation) at z = 0 per entity type, and their z slopes
    severity_weights: tuple[tuple[float, ...], ...] = (
        (0.20, 0.34, 0.30, 0.08, 0.05, 0.008),  # enterprises: larger fines
        (0.34, 0.40, 0.14, 0.04, 0.05, 0.008),
        (0.34, 0.40, 0.14, 0.04, 0.05, 0.008),
    )
    severity_beta: tuple[float, ...] = (-0.3, 0.0, 0.3, 0.3, 0.8, 1.4)
    penalty_repair: float = 0.25  # share of non-warning penalties later repaired (at z = 0)
    penalty_repair_beta: float = -0.5
    abnormal_unreachable: Rate = Rate((0.004, 0.0015, 0.003), 1.4)
    abnormal_false_info: Rate = Rate((0.0004, 0.0002, 0.0003), 1.5)
    abnormal_disclose: Rate = Rate((0.0008, 0.0, 0.0004), 1.2)
    abnormal_removal: float = 0.55  # share of non-report listings removed later
    list_missing_report: float = 0.85  # share of missing annual reports that lead to a listing
    serious: Rate = Rate((0.0025, 0.0010, 0.0018), 1.6)
    serious_removal: float = 0.3
    debtor: Rate = Rate((0.004, 0.0015, 0.002), 1.3)
    debtor_removal: float = 0.6
    inspection_random: Rate = Rate((0.08, 0.04, 0.06), 0.2)
    inspection_targeted: Rate = Rate((0.010, 0.004, 0.006), 1.2)
    problem_found: Rate = Rate((0.15, 0.15, 0.15), 1.0, cap=0.85)  # probability per inspection
    not_found: Rate = Rate((0.01, 0.01, 0.01), 1.3, cap=0.6)
    refused: Rate = Rate((0.004, 0.004, 0.004), 1.0, cap=0.2)
    complaint: Rate = Rate((0.045, 0.03, 0.008), 1.0)
    complaint_surge: Rate = Rate((0.002, 0.001, 0.0), 1.5)  # surges (≥ 3 complaints in a month)
    substantiated: Rate = Rate((0.30, 0.30, 0.30), 0.5, cap=0.92)  # probability
    change_legal_rep: Rate = Rate((0.03, 0.005, 0.02), 0.5)
    change_address: Rate = Rate((0.04, 0.02, 0.02), 0.4)
    change_capital: Rate = Rate((0.02, 0.0, 0.01), 0.3)
    change_name: Rate = Rate((0.01, 0.01, 0.005), 0.0)
    change_scope: Rate = Rate((0.04, 0.01, 0.02), 0.0)
    change_other: Rate = Rate((0.02, 0.01, 0.01), 0.0)
    shell_legal_rep_changes: float = 2.5  # extra legal-rep changes per year in shell clusters
    large_capital_change: Rate = Rate((0.15, 0.15, 0.15), 0.8, cap=0.9)  # probability |Δ| ≥ 50 %
    commitment: Rate = Rate((0.05, 0.01, 0.03), 0.0)
    commitment_broken: Rate = Rate((0.03, 0.03, 0.03), 1.2, cap=0.9)  # probability
    honor_contract: Rate = Rate((0.02, 0.0, 0.01), -1.2)
    honor_quality: Rate = Rate((0.003, 0.0005, 0.002), -1.0)
    honor_other: Rate = Rate((0.005, 0.002, 0.01), -0.8)
    a_taxpayer_honor: float = 0.3  # share of A-rated enterprises honoured each year
    ad_alliance: float = 0.6  # share of low-risk 725x entities in the alliance each year
    wage_arrears: Rate = Rate((0.002, 0.0003, 0.001), 1.5)
    wage_resolved: float = 0.8
    # annual reports: probabilities per entity and report year
    report_missing: Rate = Rate((0.015, 0.02, 0.025), 1.1, cap=0.9)
    report_missing_persistence: float = 0.85  # share of entity-years decided by the entity's stable draw
    report_late: Rate = Rate((0.10, 0.10, 0.10), 1.1, cap=0.6)
    report_false: Rate = Rate((0.004, 0.004, 0.004), 1.2, cap=0.3)
    # tax credit rating: score = -z + N(0, noise); thresholds A > B > C > D
    rating_noise: float = 0.6
    rating_thresholds: tuple[float, float, float] = (0.55, -0.9, -2.2)
    # monthly feeds: persistent episodes
    tax_nondeclare: Episode = Episode(0.02, 1.2, 3)
    tax_abnormal: Episode = Episode(0.001, 2.0, 6)
    tax_arrears: Episode = Episode(0.03, 1.2, 4)
    si_arrears: Episode = Episode(0.04, 1.2, 4)
    si_zero: Episode = Episode(0.01, 1.0, 6)
    loan_overdue: Episode = Episode(0.05, 1.2, 3)
    power_dormant: Episode = Episode(0.03, 0.8, 6)
    power_arrears: Episode = Episode(0.04, 1.2, 3)
    # corrections (same record_id, changed values) and retractions (deleted = Y) of earlier records
    correction_rate: float = 0.003
    retraction_rate: float = 0.001


@dataclass(frozen=True)
class DepartmentFormat:
    """How a department exports its files."""

    encoding: str = "UTF-8"  # or GB18030
    gzip: bool = False
    crlf: bool = False
    bom: bool = False


FORMATS: dict[str, DepartmentFormat] = {
    "samr": DepartmentFormat(),
    "tax": DepartmentFormat(encoding="GB18030"),
    "hrss": DepartmentFormat(gzip=True),
    "fin": DepartmentFormat(crlf=True),
    "power": DepartmentFormat(gzip=True),
    "court": DepartmentFormat(encoding="GB18030", crlf=True),
    "bizenv": DepartmentFormat(bom=True),
}


@dataclass(frozen=True)
class DefectParams:
    """How many bad rows `--defects` injects (every kind at least once)."""

    row_rate: float = 2e-5  # bad rows per delivered row (in addition to the one-per-kind minimum)
    orphan_rate: float = 1e-5  # rows with a valid but unknown uscc
    latest_registration_bad_rows: int = 5  # bad rows allowed in the final registration snapshot


@dataclass(frozen=True)
class Params:
    """All parameters of one generator run."""

    population: Population = field(default_factory=Population)
    risk: RiskModel = field(default_factory=RiskModel)
    defects: DefectParams = field(default_factory=DefectParams)


DEFAULT = Params()
