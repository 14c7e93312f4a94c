"""Each table builder draws from its own random streams, so builders may run at once.

The generator builds the household tables on a second thread while the simulation
runs, then the school and CSC tables on it while the other agency tables and the
people ones are built; these tests hold the property that makes that safe: a
builder's draws do not depend on what ran before it, or beside it.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from earlywarning.data.synthetic import SyntheticConfig
from earlywarning.data.synthetic._agency import agency_tables
from earlywarning.data.synthetic._build import _stream
from earlywarning.data.synthetic._frames import Agencies
from earlywarning.data.synthetic._people import draw_uasc, make_ids
from earlywarning.data.synthetic._population import build_population
from earlywarning.data.synthetic._simulate import simulate
from earlywarning.data.synthetic._timeline import Timeline
from earlywarning.data.synthetic._worker import OrderedWorker


@pytest.fixture(scope="module")
def world():
    cfg = SyntheticConfig(children=1500, years=2, seed=11, burn_in_years=2)
    tl = Timeline.from_config(cfg)
    pop = build_population(cfg, tl, _stream(cfg.seed, 1))
    uasc = draw_uasc(cfg, tl, _stream(cfg.seed, 2))
    idx = make_ids(pop, uasc, _stream(cfg.seed, 3))
    ag = Agencies(cfg, tl, {}, pop.n_families, _stream(cfg.seed, 5))
    sim = simulate(cfg, pop, tl, _stream(cfg.seed, 4))
    sen = np.zeros(pop.n_children, np.int64)
    return cfg, tl, pop, idx, ag, sim, sen


def _lags(ag: Agencies, n: int = 500) -> tuple[np.ndarray, np.ndarray]:
    fam = np.arange(n) % 50
    day = ag.tl.period_start + np.arange(n)
    return ag.observe("police", fam, day)


def test_a_fork_draws_the_same_lags_whatever_was_drawn_before(world):
    *_, ag, _, _ = world
    first = _lags(ag.fork(3))
    busy = ag.fork(7)
    _lags(busy)  # another builder's draws in between
    keep, rec = _lags(ag.fork(3))
    assert np.array_equal(first[0], keep) and np.array_equal(first[1], rec)


def test_forks_with_different_keys_draw_different_lags_but_share_coverage(world):
    *_, ag, _, _ = world
    a, b = ag.fork(1), ag.fork(2)
    assert not np.array_equal(_lags(a)[1], _lags(b)[1])
    assert all(a.linked[k] is ag.linked[k] for k in ag.linked)


def test_a_fork_key_below_one_is_refused(world):
    *_, ag, _, _ = world
    with pytest.raises(ValueError, match="fork key 0"):
        ag.fork(0)


def test_agency_tables_are_the_same_built_on_two_threads_or_one(world):
    cfg, tl, pop, idx, ag, sim, sen = world
    # each call gets its own copy: the school tables free the simulation's attendance
    alone, da_alone = agency_tables(cfg, tl, pop, replace(sim), idx, ag, sen)
    with ThreadPoolExecutor(max_workers=1) as side:
        beside, da_beside = agency_tables(cfg, tl, pop, replace(sim), idx, ag, sen, side=side)
    assert list(alone) == list(beside)
    assert sum(len(df) for df in alone.values()) > 1000
    for name in alone:
        pd.testing.assert_frame_equal(alone[name], beside[name], obj=name)
    for key in ("child", "day"):
        assert np.array_equal(da_alone[key], da_beside[key])


@pytest.mark.parametrize("share_here", [True, False])
def test_meanwhile_runs_once_on_the_calling_thread_before_the_school_tables_are_awaited(
        world, share_here):
    """The caller's work overlaps the school tables; the coverage table is the same
    whichever thread builds it."""
    cfg, tl, pop, idx, ag, sim, sen = world
    gate, calls = threading.Event(), []

    def meanwhile(da_children: dict, share) -> None:  # noqa: ANN001
        calls.append((threading.current_thread(), da_children))
        if share_here:
            share()
        gate.set()

    alone, _ = agency_tables(cfg, tl, pop, replace(sim), idx, ag, sen)
    with ThreadPoolExecutor(max_workers=1) as side:
        side.submit(gate.wait, 30)  # the school tables cannot start before meanwhile ran
        beside, da = agency_tables(cfg, tl, pop, replace(sim), idx, ag, sen, side=side,
                                   meanwhile=meanwhile)
    assert len(calls) == 1 and calls[0][0] is threading.current_thread()
    assert calls[0][1] is da
    assert list(beside) == list(alone)
    for name in alone:
        pd.testing.assert_frame_equal(alone[name], beside[name], obj=name)


def test_a_shared_job_runs_once_whoever_asks_and_its_error_reaches_the_waiter():
    from earlywarning.data.synthetic._agency import _FirstFree

    runs: list[str] = []
    job = _FirstFree(lambda: runs.append(threading.current_thread().name) or len(runs))
    threads = [threading.Thread(target=job.take, name=f"t{k}") for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert job.result() == 1 and len(runs) == 1

    def fail() -> None:
        raise OSError("disk full")

    broken = _FirstFree(fail)
    broken.take()  # a taker does not raise: the error is kept for the result
    with pytest.raises(OSError, match="disk full"):
        broken.result()


def test_jobs_from_two_threads_all_run_each_thread_in_its_own_order():
    done: list[tuple[str, int]] = []
    worker = OrderedWorker(max_queued=2)

    def submit_all(name: str) -> None:
        for i in range(200):
            worker.submit(done.append, (name, i))

    threads = [threading.Thread(target=submit_all, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    worker.wait()
    assert len(done) == 400
    for name in ("a", "b"):
        assert [i for n, i in done if n == name] == list(range(200))


def test_latent_noise_drawn_ahead_is_the_sequence_drawn_one_by_one():
    """The simulation draws each month's latent noise ahead on a thread: same draws, in order."""
    from earlywarning.data.synthetic._adversity import NoiseAhead, draw_latent_noise

    one_by_one = np.random.default_rng([3, 4, 2])
    expected = [draw_latent_noise(one_by_one, 257) for _ in range(6)]
    for ahead in (1, 2, 9):
        with NoiseAhead(np.random.default_rng([3, 4, 2]), 257, 6, ahead=ahead) as noise:
            got = [noise.next() for _ in range(6)]
            with pytest.raises(RuntimeError, match="more months stepped"):
                noise.next()
        for g, e in zip(got, expected, strict=True):
            np.testing.assert_array_equal(g, e)
    assert expected[0].shape == (3, 257)
    assert not np.array_equal(expected[0], expected[1])
    uniforms = np.concatenate([e[2] for e in expected])
    assert uniforms.min() >= 0 and uniforms.max() < 1


def test_step_latent_with_noise_given_matches_drawing_it():
    """Passing the month's noise changes where it comes from, not the step."""
    from earlywarning.data.synthetic._adversity import draw_latent_noise, init_latent, step_latent

    cfg = SyntheticConfig(children=800, seed=5)
    tl = Timeline.from_config(cfg)
    pop = build_population(cfg, tl, _stream(cfg.seed, 1))
    active = np.ones(pop.n_families, bool)
    a, b = (init_latent(cfg, pop, np.random.default_rng(1)) for _ in range(2))
    r_a, r_b = np.random.default_rng(9), np.random.default_rng(9)
    for _ in range(24):
        shocked_a, kind_a = step_latent(cfg, a, r_a, active)
        noise = draw_latent_noise(r_b, pop.n_families)
        shocked_b, kind_b = step_latent(cfg, b, r_b, active, noise)
        np.testing.assert_array_equal(shocked_a, shocked_b)
        np.testing.assert_array_equal(kind_a, kind_b)
    for name in ("u", "ell", "s", "s_house", "s_mh"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert np.any(a.s_house > 0)  # shocks happened over two years
