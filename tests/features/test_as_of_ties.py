"""Records first known on the same day give the same features whatever their order.

The child's address and family at each as-of date come from an as-of join on
the day each record was first known; two records known the same day (a move
recorded a day late, with the short stay before it) must resolve the same way
on every run, or the feature table (and every model trained on it) changes
from run to run. The rule: the latest move is the current one.
"""

from __future__ import annotations

from datetime import date

import pytest
from _warehouse import d, make_warehouse, membership, person, ts, write_pipeline
from earlywarning.config import load_pipeline
from earlywarning.features import build_features

# a one-day stay at home, then temporary accommodation from the next day: both first
# recorded on 2021-09-22, the day the as-of join first sees them
STAY = dict(addr_table_id="a1", addr_person_id="C", addr_address_type="home",
            addr_address_start_date=d("2021-09-20"), addr_address_end_date=d("2021-09-20"),
            addr_lsoa_code="E1", addr_imd_decile=4, addr_address_postcode="ZZ5 7",
            addr_recorded_at=ts("2021-09-22", "20:58"))
MOVE = dict(addr_table_id="a2", addr_person_id="C", addr_address_type="temporary",
            addr_address_start_date=d("2021-09-21"), addr_address_end_date=d("2023-12-14"),
            addr_lsoa_code="E2", addr_imd_decile=3, addr_address_postcode="ZZ1 6",
            addr_recorded_at=ts("2021-09-22", "00:42"))


@pytest.mark.parametrize("order", ["stay first", "move first"])
def test_two_addresses_known_the_same_day_resolve_to_the_latest_move(tmp_path, order):
    rows = [STAY, MOVE] if order == "stay first" else [MOVE, STAY]
    wh = make_warehouse(tmp_path / "w.duckdb", {
        "ssd_person": [person("C", "2014-03-01")],
        "ssd_family": [
            membership("f1", "fam1", "C", "2014-03-01", "2014-03-02"),
            membership("f2", "fam2", "C", "2021-09-21", "2021-09-22"),
            membership("f0", "fam0", "C", "2021-09-20", "2021-09-22"),
        ],
        "ssd_address": rows,
    })
    path = write_pipeline(tmp_path / "p.yaml", wh, tmp_path / "out",
                          as_of={"start": "2021-10-01", "end": "2022-01-01",
                                 "frequency": "monthly", "score": "2025-12-31"})
    frame = build_features(load_pipeline(path)).frame
    rows_c = frame[(frame.person_id == "C") & (frame.as_of <= date(2022, 1, 1))]
    assert sorted(rows_c["as_of"]) == [date(2021, 10, 1), date(2021, 11, 1), date(2021, 12, 1),
                                       date(2022, 1, 1)]
    assert (rows_c["address_imd_decile_now"] == 3).all()
    assert (rows_c["family_id"] == "fam2").all()  # the family joined last, that same day
