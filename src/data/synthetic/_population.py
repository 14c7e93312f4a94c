"""Places, families and people of the synthetic LA.

Causal model, part 1 (who lives where)
--------------------------------------
- **Places.** The LA has about one LSOA per ``places.people_per_lsoa`` residents
  (children are ``places.children_share`` of residents). Each LSOA gets an IMD
  decile (``places.decile_weights``); LSOAs are grouped into postcode sectors.
- **Families.** A family forms around its first birth. It has 1-5 children
  (``family.children_per_family``) born ``family.birth_gap_years`` apart, so
  children's ages are spread like England's, with births and children ageing
  out over the period. The family's number is set so that exactly
  ``children`` children are aged 0-17 on the end date.
- **Deprivation and ethnicity.** A family's first home is drawn uniformly over
  LSOAs; its ethnic major group depends on the LSOA's decile
  (``family.ethnicity_deprivation_tilt``), normalised so the child population
  matches ``family.ethnicity_mix``.
- **Baseline adversity** of a family is Normal with a mean that rises by
  ``adversity.deprivation_gradient`` per decile step towards deprivation.
- **Carers.** A main carer (a lone father in ``family.father_is_lone_carer`` of
  cases); a second carer more often in less deprived places; second carers
  leave (separation), lone carers find new partners (step-parents or partners
  of the parent), some of whom are abusive (more likely at high adversity);
  children born while a partner lives there are his, so half siblings appear.
  Some families have a grandparent, in or out of the household.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from earlywarning.data.synthetic._config import SyntheticConfig
from earlywarning.data.synthetic._timeline import DAYS_PER_YEAR, NEVER, Timeline

__all__ = ["ETH_GROUPS", "GROUP_CODES", "Population", "build_population"]

ETH_GROUPS = ("White", "Asian", "Mixed", "Black", "Other", "Unknown")
GROUP_CODES: dict[str, tuple[tuple[str, ...], tuple[float, ...]]] = {
    "White": (("WBRI", "WIRI", "WOTH", "WIRT", "WROM"), (0.84, 0.01, 0.13, 0.01, 0.01)),
    "Asian": (("AIND", "APKN", "ABAN", "CHNE", "AOTH"), (0.3, 0.35, 0.12, 0.06, 0.17)),
    "Mixed": (("MWBC", "MWBA", "MWAS", "MOTH"), (0.35, 0.15, 0.25, 0.25)),
    "Black": (("BCRB", "BAFR", "BOTH"), (0.2, 0.7, 0.1)),
    "Other": (("OOTH",), (1.0,)),
    "Unknown": (("REFU", "NOBT"), (0.5, 0.5)),
}
"""DfE ethnicity codes within each major group, with their shares."""

ROLE_CARER1, ROLE_CARER2, ROLE_PARTNER, ROLE_GRANDPARENT = 0, 1, 2, 3


@dataclass
class Population:
    """Arrays describing places, families, children and adults (indices are positions)."""

    lsoa_decile: np.ndarray
    lsoa_sector: np.ndarray
    fam_lsoa0: np.ndarray
    fam_eth: np.ndarray
    fam_start: np.ndarray
    fam_baseline: np.ndarray
    fam_carer1: np.ndarray
    fam_carer2: np.ndarray
    fam_sep: np.ndarray
    fam_partner: np.ndarray
    fam_partner_start: np.ndarray
    fam_partner_end: np.ndarray
    fam_partner_violent: np.ndarray
    ch_family: np.ndarray
    ch_dob: np.ndarray
    ch_sex: np.ndarray
    ch_eth: np.ndarray
    ch_father: np.ndarray
    ch_disability: np.ndarray
    ad_family: np.ndarray
    ad_role: np.ndarray
    ad_sex: np.ndarray
    ad_dob: np.ndarray
    ad_eth: np.ndarray
    ad_start: np.ndarray
    ad_end: np.ndarray
    ad_partner_type: np.ndarray
    eth_codes: tuple[str, ...]

    @property
    def n_families(self) -> int:
        """Number of families."""
        return len(self.fam_start)

    @property
    def n_children(self) -> int:
        """Number of children (ever aged 0-17 during the simulation)."""
        return len(self.ch_dob)

    def fam_decile0(self) -> np.ndarray:
        """IMD decile of each family's first home."""
        return self.lsoa_decile[self.fam_lsoa0]


def _places(cfg: SyntheticConfig, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    p = cfg.places
    n = max(10, round(cfg.children / p.children_share / p.people_per_lsoa))
    w = np.asarray(p.decile_weights, dtype=float)
    counts = np.floor(w / w.sum() * n).astype(int)
    rest = n - counts.sum()
    counts[np.argsort(-(w / w.sum() * n - counts), kind="stable")[:rest]] += 1
    decile = np.repeat(np.arange(1, 11), counts).astype(np.int8)
    decile = decile[rng.permutation(n)]
    sector = (np.arange(n) // p.lsoas_per_sector).astype(np.int32)
    return decile, sector


def _ethnicity_weights(cfg: SyntheticConfig, deciles: np.ndarray) -> np.ndarray:
    """P(group | decile) with the deprivation tilt, normalised to the target mix."""
    f = cfg.family
    base = np.array([f.ethnicity_mix.get(g, 0.0) for g in ETH_GROUPS])
    tilt = np.array([f.ethnicity_deprivation_tilt.get(g, 0.0) for g in ETH_GROUPS])
    dep = (10 - np.arange(1, 11)) / 9.0 - 0.5
    share = np.bincount(deciles - 1, minlength=10) / len(deciles)
    scale = base.copy()
    for _ in range(50):  # fixed point: overall mix equals the target mix
        w = scale[None, :] * np.exp(np.outer(dep, tilt))
        w /= w.sum(axis=1, keepdims=True)
        overall = share @ w
        scale *= np.where(overall > 0, base / np.maximum(overall, 1e-12), 1.0)
    w = scale[None, :] * np.exp(np.outer(dep, tilt))
    return w / w.sum(axis=1, keepdims=True)


def _draw_codes(groups: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, tuple]:
    """DfE ethnicity code index for each person given their group index."""
    all_codes = [c for g in ETH_GROUPS for c in GROUP_CODES[g][0]]
    out = np.zeros(len(groups), dtype=np.int16)
    u = rng.random(len(groups))
    offset = 0
    for gi, g in enumerate(ETH_GROUPS):
        codes, shares = GROUP_CODES[g]
        m = groups == gi
        cum = np.cumsum(shares)
        out[m] = offset + np.minimum(np.searchsorted(cum / cum[-1], u[m]), len(codes) - 1)
        offset += len(codes)
    return out, tuple(all_codes)


def _family_pool(cfg: SyntheticConfig, tl: Timeline, rng: np.random.Generator, n_pool: int):
    f = cfg.family
    probs = np.asarray(f.children_per_family, dtype=float)
    probs /= probs.sum()
    kmax = len(probs)
    lo = tl.sim_start - int((18 + 4 * kmax) * DAYS_PER_YEAR)
    anchor = rng.integers(lo, tl.end + 1, size=n_pool)
    k = rng.choice(np.arange(1, kmax + 1), size=n_pool, p=probs)
    gaps = rng.uniform(*f.birth_gap_years, size=(n_pool, kmax)) * DAYS_PER_YEAR
    gaps[:, 0] = 0
    dob = anchor[:, None] + np.cumsum(gaps, axis=1).astype(np.int64)
    born = (np.arange(kmax)[None, :] < k[:, None]) & (dob <= tl.end)
    keep = born & (dob + 18 * DAYS_PER_YEAR > tl.sim_start)
    at_end = keep & (dob > tl.end - 18 * DAYS_PER_YEAR)
    return anchor, dob, keep, at_end


def build_population(cfg: SyntheticConfig, tl: Timeline, rng: np.random.Generator) -> Population:
    """Draw places, families, children and adults.

    Parameters
    ----------
    cfg : SyntheticConfig
    tl : Timeline
        Simulation calendar (burn-in start, period start, end date).
    rng : numpy.random.Generator

    Returns
    -------
    Population
    """
    f = cfg.family
    lsoa_decile, lsoa_sector = _places(cfg, rng)
    n_pool = int(cfg.children * 1.2) + 100
    while True:
        anchor, dob, keep, at_end = _family_pool(cfg, tl, rng, n_pool)
        cum = np.cumsum(at_end.sum(axis=1))
        if cum[-1] >= cfg.children:
            break
        n_pool *= 2
    n_fam_pool = int(np.searchsorted(cum, cfg.children)) + 1
    anchor, dob, keep = anchor[:n_fam_pool], dob[:n_fam_pool], keep[:n_fam_pool]
    has = keep.any(axis=1)
    anchor, dob, keep = anchor[has], dob[has], keep[has]
    n_fam = len(anchor)

    fam_lsoa0 = rng.integers(0, len(lsoa_decile), size=n_fam).astype(np.int32)
    dec = lsoa_decile[fam_lsoa0].astype(np.int64)
    ew = _ethnicity_weights(cfg, lsoa_decile)
    cum_w = np.cumsum(ew, axis=1)
    fam_eth = (rng.random(n_fam)[:, None] > cum_w[dec - 1]).sum(axis=1).astype(np.int8)
    fam_eth = np.minimum(fam_eth, len(ETH_GROUPS) - 1)
    a = cfg.adversity
    fam_baseline = (
        a.deprivation_gradient * (5.5 - dec) + a.baseline_sd * rng.standard_normal(n_fam)
    ).astype(np.float32)
    dep01 = (10 - dec) / 9.0
    fam_start = anchor - int(DAYS_PER_YEAR)

    # --- carers ------------------------------------------------------------------
    p_two = f.two_carers_least_deprived + (
        f.two_carers_most_deprived - f.two_carers_least_deprived) * dep01
    two = rng.random(n_fam) < p_two
    lone_father = rng.random(n_fam) < f.father_is_lone_carer
    age_first = np.clip(rng.normal(29.5 - 3.0 * dep01, 5.0), 16, 44)
    c1_dob = anchor - (age_first * DAYS_PER_YEAR).astype(np.int64)
    c2_dob = c1_dob - (rng.normal(2.0, 3.0, n_fam) * DAYS_PER_YEAR).astype(np.int64)
    sep = np.where(two, fam_start + (rng.exponential(1 / f.separation_per_year, n_fam)
                                     * DAYS_PER_YEAR).astype(np.int64), NEVER)
    sep = np.where(sep > tl.end, NEVER, sep)
    lone_from = np.where(two, sep, fam_start)
    p_arr = lone_from + (rng.exponential(1 / f.new_partner_per_year, n_fam)
                         * DAYS_PER_YEAR).astype(np.int64)
    has_partner = (lone_from < NEVER) & (p_arr <= tl.end)
    p_end = p_arr + (rng.exponential(1 / f.partner_leaves_per_year, n_fam)
                     * DAYS_PER_YEAR).astype(np.int64)
    p_end = np.where(p_end > tl.end, NEVER, p_end)
    z = (fam_baseline - fam_baseline.mean()) / max(float(fam_baseline.std()), 1e-6)
    p_violent = np.clip(f.violent_partner_share * np.exp(0.6 * z - 0.18), 0, 0.9)
    violent = has_partner & (rng.random(n_fam) < p_violent)
    has_gp = rng.random(n_fam) < f.grandparent_share
    gp_in = has_gp & (rng.random(n_fam) < f.grandparent_in_household)

    # adults: carer1 for all, carer2 where two, partner where has_partner, grandparent
    idx_c1 = np.arange(n_fam)
    blocks = [
        (idx_c1, ROLE_CARER1, c1_dob, fam_start, np.full(n_fam, NEVER)),
        (np.flatnonzero(two), ROLE_CARER2, c2_dob[two], fam_start[two], sep[two]),
        (np.flatnonzero(has_partner), ROLE_PARTNER,
         p_arr[has_partner]
         - (rng.normal(31, 6, has_partner.sum()) * DAYS_PER_YEAR).astype(np.int64),
         p_arr[has_partner], p_end[has_partner]),
        (np.flatnonzero(has_gp), ROLE_GRANDPARENT,
         c1_dob[has_gp] - (rng.normal(27, 4, has_gp.sum()) * DAYS_PER_YEAR).astype(np.int64),
         np.where(gp_in[has_gp], fam_start[has_gp], NEVER), np.full(has_gp.sum(), NEVER)),
    ]
    ad_family = np.concatenate([b[0] for b in blocks]).astype(np.int64)
    ad_role = np.concatenate([np.full(len(b[0]), b[1], np.int8) for b in blocks])
    ad_dob = np.concatenate([b[2] for b in blocks]).astype(np.int64)
    ad_start = np.concatenate([b[3] for b in blocks]).astype(np.int64)
    ad_end = np.concatenate([b[4] for b in blocks]).astype(np.int64)
    n_ad = len(ad_family)
    c1_female = ~lone_father[ad_family]
    ad_sex = np.where(ad_role == ROLE_CARER1, c1_female, ~c1_female)
    ad_sex = np.where(ad_role == ROLE_GRANDPARENT, rng.random(n_ad) < 0.7, ad_sex)
    ad_partner_type = np.where(rng.random(n_ad) < 0.5, 1, 2).astype(np.int8)  # step / partner
    ad_eth_group = fam_eth[ad_family].astype(np.int64)
    mixed = ETH_GROUPS.index("Mixed")
    parent_group = np.where(rng.random(n_ad) < 0.5, 0, rng.choice([1, 3], size=n_ad))
    ad_eth_group = np.where(ad_eth_group == mixed, parent_group, ad_eth_group)

    fam_carer1 = np.full(n_fam, -1, np.int64)
    fam_carer2 = np.full(n_fam, -1, np.int64)
    fam_partner = np.full(n_fam, -1, np.int64)
    for role, arr in ((ROLE_CARER1, fam_carer1), (ROLE_CARER2, fam_carer2),
                      (ROLE_PARTNER, fam_partner)):
        m = ad_role == role
        arr[ad_family[m]] = np.flatnonzero(m)

    # --- children ----------------------------------------------------------------
    fi, ki = np.nonzero(keep)
    ch_family = fi.astype(np.int64)
    ch_dob = dob[fi, ki]
    order = np.argsort(ch_dob, kind="stable")
    ch_family, ch_dob = ch_family[order], ch_dob[order]
    n_ch = len(ch_dob)
    ch_sex = rng.random(n_ch) < 0.512  # True = male
    cf = ch_family
    by_c2 = (fam_carer2[cf] >= 0) & (ch_dob < sep[cf])
    by_partner = (fam_partner[cf] >= 0) & (ch_dob >= p_arr[cf]) & (ch_dob < p_end[cf])
    ch_father = np.where(by_c2, fam_carer2[cf], np.where(by_partner, fam_partner[cf], -1))
    ch_father = np.where(lone_father[cf], fam_carer1[cf], ch_father)
    disabled = rng.random(n_ch) < f.disability_share
    ch_disability = np.where(disabled, rng.integers(1, 13, n_ch), -1).astype(np.int8)

    ch_eth, codes = _draw_codes(fam_eth[cf].astype(np.int64), rng)
    ad_eth, _ = _draw_codes(ad_eth_group, rng)
    return Population(
        lsoa_decile=lsoa_decile, lsoa_sector=lsoa_sector, fam_lsoa0=fam_lsoa0,
        fam_eth=fam_eth, fam_start=fam_start, fam_baseline=fam_baseline,
        fam_carer1=fam_carer1, fam_carer2=fam_carer2, fam_sep=sep,
        fam_partner=fam_partner, fam_partner_start=np.where(has_partner, p_arr, NEVER),
        fam_partner_end=np.where(has_partner, p_end, NEVER), fam_partner_violent=violent,
        ch_family=ch_family, ch_dob=ch_dob, ch_sex=ch_sex, ch_eth=ch_eth, ch_father=ch_father,
        ch_disability=ch_disability, ad_family=ad_family, ad_role=ad_role, ad_sex=ad_sex,
        ad_dob=ad_dob, ad_eth=ad_eth, ad_start=ad_start, ad_end=ad_end,
        ad_partner_type=ad_partner_type, eth_codes=codes,
    )
