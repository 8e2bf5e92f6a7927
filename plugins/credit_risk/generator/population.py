"""The synthetic market entities of the province: attributes, identifiers and latent risk.

Deterministic for (seed, number of entities, horizon). Built once per run (and
again by `extend`), entirely with numpy / Arrow column operations.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from credit_risk.generator import refdata, vec
from credit_risk.generator.params import COOPERATIVE, ENTERPRISE, INDIVIDUAL, TYPE_SHARES, Population

log = logging.getLogger(__name__)

NO_EXIT = np.int32(2**31 - 1)
MA_SINCE = vec.day_number(dt.date(2015, 10, 1))  # new-style organisation codes "MA…"

COUNTIES: tuple[tuple[str, str, int], ...] = tuple(
    (code, name, p) for p, pref in enumerate(refdata.PREFECTURES) for code, name in pref.counties
)
COUNTY_CODES = np.array([int(c[0]) for c in COUNTIES], dtype=np.int32)
COUNTY_PREF = np.array([c[2] for c in COUNTIES], dtype=np.int16)
INDUSTRY_CODES = tuple(i.code for i in refdata.INDUSTRIES)
INDUSTRY_DIVISION = np.array([int(i.code[:2]) for i in refdata.INDUSTRIES], dtype=np.int16)
VILLAGES = tuple(
    "新发 永安 红星 东升 胜利 前进 光明 幸福 太平 长胜 民主 团结 新立 兴隆 富强 保安 双榆 三合 四方 五星".split()
)
FULLWIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


@dataclass
class Entities:
    """Column arrays of the population (index = entity number)."""

    n: int
    horizon: int  # day number: nobody is established after it
    etype: np.ndarray
    z: np.ndarray
    risk: np.ndarray  # latent risk in (0, 1) = Φ(z)
    decile: np.ndarray  # 1 … 10 by latent risk
    shell: np.ndarray  # shell cluster number, -1 if none
    county: np.ndarray  # index into COUNTIES
    pref: np.ndarray
    region: np.ndarray  # 6-digit GB/T 2260 code
    industry: np.ndarray  # index into refdata.INDUSTRIES
    est: np.ndarray  # established_on (day number)
    exit: np.ndarray  # status_changed_on (day number) or NO_EXIT
    exit_status: np.ndarray  # 1 revoked, 2 deregistered, 0 none
    capital: np.ndarray  # registered capital in cents, -1 = null
    size: np.ndarray  # monthly business volume scale in yuan
    headcount: np.ndarray
    four_new: np.ndarray
    farmer_bp: np.ndarray  # farmer_member_ratio in 1/10000, -1 = null
    cov_tax: np.ndarray
    cov_si: np.ndarray
    cov_loan: np.ndarray
    cov_power: np.ndarray
    cov_rating: np.ndarray
    person: np.ndarray  # legal representative (person number)
    uscc: pa.Array
    name: pa.Array
    address: pa.Array
    rep_name: pa.Array  # per person
    rep_id: pa.Array  # per person
    phone: pa.Array

    def active_in(self, start: int, end: int) -> np.ndarray:
        """Mask of entities existing at some day of [start, end] (day numbers)."""
        return (self.est <= end) & (self.exit >= start)

    def uscc_of(self, idx: np.ndarray) -> pa.Array:
        return self.uscc.take(pa.array(np.asarray(idx, dtype=np.int64)))


def _weighted(rng: np.random.Generator, weights: np.ndarray, n: int) -> np.ndarray:
    w = np.asarray(weights, dtype=np.float64)
    return rng.choice(len(w), size=n, p=w / w.sum())


def _groups(
    rng: np.random.Generator, candidates: np.ndarray, members: int, lo: int, hi: int
) -> tuple[np.ndarray, np.ndarray]:
    """Cut about `members` random candidates into groups of lo…hi; returns (member, leader) arrays."""
    if members < lo or len(candidates) < lo:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    members = min(members, len(candidates))
    sizes = rng.integers(lo, hi + 1, size=members // lo + 1)
    sizes = sizes[np.cumsum(sizes) <= members]
    if len(sizes) == 0:
        sizes = np.array([lo])
    chosen = rng.permutation(candidates)[: sizes.sum()]
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    leaders = np.repeat(chosen[starts], sizes)
    return chosen, leaders


def build(n: int, seed: int, horizon: dt.date, p: Population) -> Entities:
    """Draw the population of `n` entities, all established on or before `horizon`."""
    r = vec.rng(seed, 1)
    hz = vec.day_number(horizon)
    n_ent = round(n * TYPE_SHARES[0])
    n_coop = max(1, round(n * TYPE_SHARES[2]))
    n_ind = n - n_ent - n_coop
    etype = r.permutation(
        np.repeat(np.array([ENTERPRISE, INDIVIDUAL, COOPERATIVE], np.int8), [n_ent, n_ind, n_coop])
    )
    is_ent, is_ind, is_coop = etype == ENTERPRISE, etype == INDIVIDUAL, etype == COOPERATIVE

    z = vec.normal_ppf(r.random(n))

    # where: prefecture by weight, then county (districts hold more businesses)
    pref_w = np.array([pf.weight for pf in refdata.PREFECTURES])
    county_w = np.array(
        [3.0 if nm.endswith("区") else 1.5 if nm.endswith("市") else 1.0 for _, nm, _ in COUNTIES]
    )
    pref = _weighted(r, pref_w, n)
    county = np.empty(n, np.int64)
    for k in range(len(refdata.PREFECTURES)):
        sel = np.flatnonzero(pref == k)
        cidx = np.flatnonzero(COUNTY_PREF == k)
        cw = county_w[cidx]
        if len(sel):
            county[sel] = cidx[_weighted(r, cw, len(sel))]

    # what: industry by entity type
    industry = np.empty(n, np.int64)
    for t, attr in ((ENTERPRISE, "w_ent"), (INDIVIDUAL, "w_ind"), (COOPERATIVE, "w_coop")):
        sel = np.flatnonzero(etype == t)
        w = np.array([getattr(i, attr) for i in refdata.INDUSTRIES])
        industry[sel] = _weighted(r, w, len(sel))

    # when: age ~ exponential by type, truncated
    mean_age = np.array(p.mean_age_years)[etype]
    age = r.exponential(mean_age)
    over = age > p.max_age_years
    age[over] = r.uniform(0, p.max_age_years, over.sum())
    est = (hz - np.floor(age * 365.25)).astype(np.int64)

    # shell-company clusters: shared address, phone and legal representatives, high risk
    shell = np.full(n, -1, np.int32)
    ent_idx = np.flatnonzero(is_ent)
    n_shell = max(2 * p.shell_size[0], round(p.shell_share_of_enterprises * n_ent))
    sh_members, sh_leaders = _groups(r, ent_idx, n_shell, p.shell_size[0], p.shell_size[1])
    cluster_of_leader = {int(ld): k for k, ld in enumerate(np.unique(sh_leaders))}
    shell[sh_members] = np.array([cluster_of_leader[int(x)] for x in sh_leaders], np.int32)
    is_shell = shell >= 0
    z[is_shell] = r.normal(p.shell_z[0], p.shell_z[1], is_shell.sum())
    county[sh_members] = county[sh_leaders]
    pref = COUNTY_PREF[county].astype(np.int64)
    shell_inds = np.array([INDUSTRY_CODES.index(c) for c in ("7243", "7299", "5219", "7519", "7212", "6429")])
    industry[sh_members] = shell_inds[r.integers(0, len(shell_inds), len(sh_members))]
    # shells are registered in batches, within the last three years
    est[sh_leaders] = hz - r.integers(30, 3 * 365, len(sh_leaders))
    est[sh_members] = est[sh_leaders] + r.integers(0, 60, len(sh_members))
    est = np.minimum(est, hz)

    risk = vec.normal_cdf(z)
    order = np.argsort(risk, kind="stable")
    decile = np.empty(n, np.int8)
    decile[order] = (np.arange(n) * 10 // n + 1).astype(np.int8)

    # exits (revoked / deregistered): more likely for risky entities; shells stay active
    e_beta = np.exp(p.exit_beta * z - p.exit_beta**2 / 2)
    u_exit = r.random(n)
    p_exit = np.array(p.exit_share)[etype] * e_beta
    exit_day = np.full(n, NO_EXIT, np.int64)
    past = (u_exit < p_exit) & ~is_shell & (est < hz - 120)
    lo = np.maximum(est[past] + 90, hz - 10 * 365)
    exit_day[past] = lo + np.floor(r.random(past.sum()) * (hz - lo)).astype(np.int64)
    future = ~past & ~is_shell & (r.random(n) < p.future_exit_share * e_beta)
    exit_day[future] = hz + r.integers(1, 730, future.sum())
    exit_status = np.zeros(n, np.int8)
    has_exit = exit_day != NO_EXIT
    revoked = r.random(n) < 0.25 + 0.25 * (z > 1.0)
    exit_status[has_exit] = np.where(revoked[has_exit], 1, 2)

    # money
    capital = np.full(n, -1, np.int64)
    cap_ent = 10 ** r.normal(6.0, 0.75, n)
    big = r.random(n) < p.big_capital_share
    cap_ent[big] = 10 ** r.uniform(8.0, 9.3, big.sum())
    cap_coop = 10 ** r.normal(5.7, 0.5, n)
    yuan = np.where(is_ent, cap_ent, cap_coop)
    yuan = np.where(yuan >= 1e5, np.round(yuan, -4), np.round(yuan, -3))  # capital is a round number
    capital[~is_ind] = (yuan[~is_ind] * 100).astype(np.int64)
    size = np.where(
        is_ent,
        10 ** (4.2 + 0.35 * (np.log10(cap_ent) - 6.0) + r.normal(0, 0.5, n)),
        np.where(is_ind, 10 ** r.normal(3.8, 0.4, n), 10 ** r.normal(4.2, 0.5, n)),
    )
    # big capital, no business (W07/W08 candidates) for a few risky ones
    size[big & (z > 1.0)] *= 0.01

    headcount = np.maximum(
        1, np.round(np.where(is_ent, 10 ** r.normal(0.9, 0.55, n), 10 ** r.normal(0.5, 0.3, n)))
    )
    cov = r.random((5, n))
    cov_tax = cov[0] < np.array(p.cov_tax)[etype]
    si_p = np.array(p.cov_si)[etype] * np.clip(headcount / 8.0, 0.4, 2.2) / 1.1
    cov_si = cov[1] < si_p
    cov_loan = cov[2] < np.array(p.cov_loan)[etype]
    cov_power = cov[3] < np.array(p.cov_power)[etype]
    cov_rating = cov_tax & (~is_ind | (cov[4] < p.cov_rating_individual))

    four_share = p.four_new + np.array([i.four_new for i in refdata.INDUSTRIES])[industry]
    four_new = is_ent & (r.random(n) < four_share)

    farmer_bp = np.full(n, -1, np.int64)
    members = r.integers(5, 151, n)
    low = r.random(n) < p.farmer_ratio_low * np.exp(
        p.farmer_ratio_low_beta * z - p.farmer_ratio_low_beta**2 / 2
    )
    ratio = np.where(low, r.uniform(0.55, 0.79, n), r.uniform(0.80, 1.0, n))
    farmers = np.clip(np.round(ratio * members), 1, members)
    farmers = np.where(
        low, np.minimum(farmers, np.ceil(0.8 * members) - 1), np.maximum(farmers, np.ceil(0.8 * members))
    )
    bp = np.round(farmers / members * 10000).astype(np.int64)
    bp = np.where(low, np.minimum(bp, 7999), np.maximum(bp, 8000))
    has_ratio = is_coop & (r.random(n) >= p.farmer_ratio_null)
    farmer_bp[has_ratio] = bp[has_ratio]

    # sharing: addresses, phones, legal representatives
    normal = np.flatnonzero(~is_shell)
    normal_ent = np.flatnonzero(is_ent & ~is_shell)
    addr_leader = np.arange(n)
    m, ld = _groups(r, normal_ent, round(p.business_centre_share * n_ent), 3, 9)
    addr_leader[m] = ld
    rest = np.setdiff1d(normal_ent, m)
    m, ld = _groups(r, rest, round(p.incubator_share * n_ent), 10, 25)
    addr_leader[m] = ld
    m, ld = _groups(r, np.flatnonzero(is_ind), round(p.market_share_individual * n_ind), 3, 6)
    addr_leader[m] = ld
    addr_leader[sh_members] = sh_leaders
    county = county[addr_leader]
    pref = COUNTY_PREF[county].astype(np.int64)
    region = COUNTY_CODES[county]

    phone_leader = np.arange(n)
    m, ld = _groups(r, normal_ent, round(p.agency_phone_share * n_ent), 3, 14)
    phone_leader[m] = ld
    phone_leader[sh_members] = sh_leaders

    person = np.arange(n)
    m, ld = _groups(r, normal, round(p.family_rep_share * n), 2, 4)
    person[m] = ld
    rest = np.setdiff1d(normal_ent, m)
    m, ld = _groups(r, rest, round(p.serial_rep_share * n_ent), 5, 6)
    person[m] = ld
    # within a shell cluster, every legal representative heads at least five entities
    if len(sh_members):
        first = np.r_[0, np.flatnonzero(np.diff(sh_leaders)) + 1]
        csize = np.diff(np.r_[first, len(sh_members)])
        start = np.repeat(first, csize)
        pos = np.arange(len(sh_members)) - start
        reps = np.maximum(1, np.repeat(csize, csize) // 5)
        person[sh_members] = sh_members[start + pos % reps]

    persons = _persons(r, n, pref)
    rep_name, rep_id = persons
    uscc = _uscc(r, etype, region, est)
    phone = _phones(r, n, pref, p)
    phone = phone.take(pa.array(phone_leader))
    shared_phone = (phone_leader != np.arange(n)) | (np.bincount(phone_leader, minlength=n)[np.arange(n)] > 1)
    no_phone = (r.random(n) < p.phone_null) & ~shared_phone
    phone = vec.nullify(phone, ~no_phone)
    address = _addresses(r, n, etype, county, pref, addr_leader)
    surname_of_rep = pc.utf8_slice_codeunits(rep_name.take(pa.array(person)), 0, 1)
    name = _names(r, etype, industry, county, pref, surname_of_rep)

    log.info(
        "population: %d entities (%d enterprises, %d individual, %d cooperatives), %d in %d shell clusters",
        n,
        n_ent,
        n_ind,
        n_coop,
        int(is_shell.sum()),
        len(cluster_of_leader),
    )
    return Entities(
        n=n, horizon=hz, etype=etype, z=z, risk=risk, decile=decile, shell=shell,
        county=county.astype(np.int16), pref=pref.astype(np.int8), region=region,
        industry=industry.astype(np.int16), est=est.astype(np.int32), exit=exit_day.astype(np.int32),
        exit_status=exit_status, capital=capital, size=size, headcount=headcount.astype(np.int32),
        four_new=four_new, farmer_bp=farmer_bp, cov_tax=cov_tax, cov_si=cov_si, cov_loan=cov_loan,
        cov_power=cov_power, cov_rating=cov_rating, person=person, uscc=uscc, name=name, address=address,
        rep_name=rep_name, rep_id=rep_id, phone=phone,
    )  # fmt: skip


def _persons(r: np.random.Generator, n: int, pref: np.ndarray) -> tuple[pa.Array, pa.Array]:
    """Names and resident IDs of n persons (person k lives in entity k's prefecture)."""
    sur = vec.pick(refdata.SURNAMES, _weighted(r, np.array(refdata.SURNAME_WEIGHTS), n))
    compound = r.random(n) < 0.003
    if compound.any():
        sur = pc.if_else(pa.array(compound), vec.pick(refdata.COMPOUND_SURNAMES, r.integers(0, 5, n)), sur)
    g1 = vec.pick(refdata.GIVEN_CHARS, r.integers(0, len(refdata.GIVEN_CHARS), n))
    g2 = vec.pick(refdata.GIVEN_CHARS, r.integers(0, len(refdata.GIVEN_CHARS), n))
    two = r.random(n) < 0.7
    given = pc.if_else(pa.array(two), vec.join([g1, g2]), g1)
    names = vec.join([sur, given])
    # resident ID: birthplace, birth date, sequence, check character
    local = np.array([int(c[0]) for c in COUNTIES])[
        np.array([np.flatnonzero(COUNTY_PREF == k)[0] for k in range(13)])
    ]
    bp_local = local[pref] + r.integers(0, 3, n)  # a county of the prefecture (first few codes)
    bp_local = np.where(np.isin(bp_local, COUNTY_CODES), bp_local, local[pref])
    others = np.array([int(x) for x in refdata.OTHER_BIRTHPLACES])
    birthplace = np.where(r.random(n) < 0.85, bp_local, others[r.integers(0, len(others), n)])
    born = vec.day_number(dt.date(1957, 1, 1)) + r.integers(0, 46 * 365, n)
    d64 = born.astype("datetime64[D]")
    year = d64.astype("datetime64[Y]").astype(np.int64) + 1970
    month = d64.astype("datetime64[M]").astype(np.int64) % 12 + 1
    day = (d64 - d64.astype("datetime64[M]").astype("datetime64[D]")).astype(np.int64) + 1
    ymd_digits = vec.digits(year * 10000 + month * 100 + day, 8)
    body = vec.concat_cols(vec.digits(birthplace, 6), ymd_digits, vec.digits(r.integers(1, 1000, n), 3))
    ids = vec.fixed_strings(vec.concat_cols(body, vec.ric_check_chars(body)[:, None]))
    return names, ids


def _uscc(r: np.random.Generator, etype: np.ndarray, region: np.ndarray, est: np.ndarray) -> pa.Array:
    """Unique, valid USCCs: 9 + type digit, region code, organisation code, check character."""
    n = len(etype)
    alphabet = np.frombuffer(vec.USCC_ALPHABET.encode(), np.uint8)
    body = np.empty((n, 17), np.uint8)
    body[:, 0] = ord("9")
    body[:, 1] = ord("1") + etype.astype(np.uint8)
    body[:, 2:8] = vec.digits(region, 6)
    new_style = est >= MA_SINCE
    todo = np.arange(n)
    while len(todo):
        k = len(todo)
        org8 = (48 + r.integers(0, 10, (k, 8))).astype(np.uint8)
        ns = new_style[todo]
        org8[ns, 0] = ord("M")
        org8[ns, 1] = ord("A")
        org8[ns, 2:] = alphabet[r.integers(0, 31, (int(ns.sum()), 6))]
        body[todo, 8:16] = org8
        body[todo, 16] = vec.org_check_chars(org8)
        keys = body.view("S17").ravel()
        _, first = np.unique(keys, return_index=True)
        dup = np.ones(n, bool)
        dup[first] = False
        todo = np.flatnonzero(dup)
    return vec.fixed_strings(vec.concat_cols(body, vec.uscc_check_chars(body)[:, None]))


def _phones(r: np.random.Generator, n: int, pref: np.ndarray, p: Population) -> pa.Array:
    """Mobile numbers (1xx xxxx xxxx) and some landlines (area code-8 digits)."""
    second = np.array([ord(c) for c in "35789"], np.uint8)[r.integers(0, 5, n)]
    mobile = vec.concat_cols(
        np.full((n, 1), ord("1"), np.uint8), second[:, None], vec.digits(r.integers(0, 10**9, n), 9)
    )
    mob = vec.fixed_strings(mobile)
    area = vec.pick([pf.area_code for pf in refdata.PREFECTURES], pref)
    land = vec.join([area, "-", vec.serial_ids("8", r.integers(0, 10**7, n), 7)])
    return pc.if_else(pa.array(r.random(n) < p.landline), land, mob)


def _addresses(
    r: np.random.Generator,
    n: int,
    etype: np.ndarray,
    county: np.ndarray,
    pref: np.ndarray,
    leader: np.ndarray,
) -> pa.Array:
    """Street addresses; entities of one address group share the leader's (with spelling variants)."""
    pref_names = vec.pick([pf.name for pf in refdata.PREFECTURES], pref)
    county_names = vec.pick([c[1] for c in COUNTIES], county)
    road = vec.pick(refdata.ROADS, r.integers(0, len(refdata.ROADS), n))
    num = pc.cast(pa.array(np.minimum(999, 1 + r.exponential(120, n)).astype(np.int64)), pa.string())
    bld = pc.cast(pa.array(r.integers(1, 31, n)), pa.string())
    room = pc.cast(pa.array(r.integers(1, 26, n) * 100 + r.integers(1, 9, n)), pa.string())
    shop = pc.cast(pa.array(r.integers(1, 41, n)), pa.string())
    office = vec.join([road, num, "号", bld, "栋", room, "室"])
    store = vec.join([road, num, "号", shop, "号门市"])
    town = vec.pick(refdata.FIRM_CHARS, r.integers(0, len(refdata.FIRM_CHARS), n))
    village = vec.pick(VILLAGES, r.integers(0, len(VILLAGES), n))
    group = pc.cast(pa.array(r.integers(1, 12, n)), pa.string())
    rural = vec.join([town, "镇", village, "村", group, "组"])
    style = np.where(etype == COOPERATIVE, 2, np.where(etype == INDIVIDUAL, 1, 0))
    style = np.where((etype == INDIVIDUAL) & (r.random(n) < 0.15), 2, style)
    detail = pc.if_else(pa.array(style == 0), office, pc.if_else(pa.array(style == 1), store, rural))
    comma = r.random(n) < 0.003  # a few addresses carry an ASCII comma (CSV quoting)
    detail = pc.if_else(pa.array(comma), vec.join([detail, ",二楼"]), detail)
    full = vec.join(["黑龙江省", pref_names, county_names, detail])
    full = full.take(pa.array(leader))
    # spelling variants inside address groups: the same place after NFKC + whitespace removal
    follower = np.flatnonzero((leader != np.arange(n)) & (r.random(n) < 0.3))
    if len(follower):
        vals = full.take(pa.array(follower)).to_pylist()
        variants = [
            v.translate(FULLWIDTH) if k % 2 == 0 else v.replace("省", "省 ", 1) for k, v in enumerate(vals)
        ]
        idx = np.arange(n)
        ext = pa.concat_arrays([full, pa.array(variants, pa.string())])
        idx[follower] = n + np.arange(len(follower))
        return ext.take(pa.array(idx))
    return full


def _names(
    r: np.random.Generator,
    etype: np.ndarray,
    industry: np.ndarray,
    county: np.ndarray,
    pref: np.ndarray,
    surname: pa.Array,
) -> pa.Array:
    """Chinese entity names by type (enterprise 有限公司 / individual shop / cooperative 专业合作社)."""
    n = len(etype)
    firm = vec.join(
        [
            vec.pick(refdata.FIRM_CHARS, r.integers(0, len(refdata.FIRM_CHARS), n)),
            vec.pick(refdata.FIRM_CHARS, r.integers(0, len(refdata.FIRM_CHARS), n)),
        ]
    )
    city = vec.pick([pf.name.removesuffix("市").removesuffix("地区") for pf in refdata.PREFECTURES], pref)
    city = pc.if_else(pa.array(r.random(n) < 0.15), pa.scalar("黑龙江"), city)
    word = vec.pick([i.word for i in refdata.INDUSTRIES], industry)
    suffix = vec.pick(
        ("有限公司", "有限责任公司", "股份有限公司", "集团有限公司"),
        _weighted(r, np.array([70, 24, 4, 2]), n),
    )
    quoted = r.random(n) < 0.0005  # a few names with ASCII quotes (CSV "" escaping)
    firm_q = pc.if_else(pa.array(quoted), vec.join(['"', firm, '"']), firm)
    ent = vec.join([city, firm_q, word, suffix])
    county_names = vec.pick([c[1] for c in COUNTIES], county)
    shop = vec.pick([i.shop for i in refdata.INDUSTRIES], industry)
    style = r.random(n)
    ind_key = pc.if_else(pa.array(style < 0.6), firm, vec.join([surname, "记"]))
    ind = vec.join([county_names, ind_key, shop])
    div = np.array([int(i.code[:2]) for i in refdata.INDUSTRIES])[industry]
    coop_word = np.where(div <= 2, 0, np.where(div == 3, 1, np.where(div == 5, 2, 3)))
    coop = vec.join(
        [
            county_names,
            firm,
            vec.pick(
                ("种植专业合作社", "养殖专业合作社", "农机专业合作社", "农产品购销专业合作社"), coop_word
            ),
        ]
    )
    return pc.if_else(
        pa.array(etype == ENTERPRISE), ent, pc.if_else(pa.array(etype == INDIVIDUAL), ind, coop)
    )
