"""Web app load: flag list and child page latency with many signed-in users.

The app runs in its own process (uvicorn, one worker, on loopback, argon2 and
all middleware as in production) on the demo warehouse when it has flags
(``data/warehouse.duckdb``), otherwise on a sample warehouse. Each simulated
user signs in through the form, then alternates between the flag list (a
random page, sort or filter) and a random child page in scope, pausing
1-3 s between pages (locust-style think time; a person reading a child's page
takes far longer, so this is a demanding load: about 25 pages a second).
The run is bounded: fixed users, fixed duration, then everything stops.
Before it, two users warm the server up for 3 s (not measured); after it, the
baseline: one user alone on the same warm server for 15 s with short pauses,
so the figure shows what 50 concurrent users add to a single user's latency.

Target (issue 8): p95 <= 150 ms for both pages with 50 users over 60 s, 0 errors.
Quick mode: 5 users for 5 s on a small sample warehouse.
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
WORK = HERE / "_work" / "app"
TARGET_MS = 150.0
THINK = (1.0, 3.0)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _warehouse(quick: bool) -> tuple[Path, str]:
    demo = ROOT / "data" / "warehouse.duckdb"
    if not quick and demo.exists():
        import duckdb

        con = duckdb.connect(str(demo), read_only=True)
        try:
            n = con.execute("SELECT count(*) FROM flags").fetchone()[0]
        except duckdb.Error:
            n = 0
        finally:
            con.close()
        if n:
            return demo, f"demo warehouse ({n} flags)"
    from earlywarning.app._sample_warehouse import build_sample_warehouse

    n_families = 60 if quick else 600
    path = build_sample_warehouse(WORK / "sample.duckdb", n_families=n_families, seed=5)
    return path, f"sample warehouse ({n_families} flagged families)"


def _prepare(quick: bool) -> tuple[dict, str, list[str], str]:
    from earlywarning.app import load_settings
    from earlywarning.app._commands import init_app_database

    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    warehouse, label = _warehouse(quick)
    db_url = f"sqlite:///{WORK / 'app.db'}"
    settings = load_settings(environ={}, demo_mode=True, database_url=db_url,
                             warehouse_path=warehouse)
    result = init_app_database(settings)
    import sqlite3

    with sqlite3.connect(WORK / "app.db") as con:
        children = [r[0] for r in con.execute("SELECT person_id FROM flags WHERE current")]
    import secrets

    env = {**os.environ, "EW_SECRET_KEY": secrets.token_urlsafe(40), "EW_DATABASE_URL": db_url,
           "EW_LOGIN_MAX_FAILURES": "100000"}
    password = {u.username: u.password for u in result.users}["lead"]
    return env, password, children, label


_SERVER = """
from earlywarning.app import load_settings
from earlywarning.app._commands import serve
serve(load_settings(), "127.0.0.1", {port}, workers={workers}, access_log=False)
"""
WORKERS = 2
BASELINE_THINK = (0.05, 0.15)


async def _user(base: str, password: str, children: list[str], stop_at: float,
                samples: dict[str, list[float]], errors: list[str], rng: random.Random,
                think: tuple[float, float] = THINK) -> None:
    import httpx

    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        page = await client.get("/sign-in")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        r = await client.post("/sign-in", data={"username": "lead", "password": password,
                                                "csrf_token": token})
        if r.status_code != 303 or r.headers.get("location") != "/flags":
            errors.append(f"sign-in {r.status_code}")
            return
        await asyncio.sleep(rng.uniform(0, think[1]))
        i = 0
        while time.monotonic() < stop_at:
            if i % 2 == 0:
                kind = "flag_list"
                params = rng.choice([{}, {"page": rng.randint(1, 3)}, {"sort": "risk",
                                     "order": "desc"}, {"status": "new"}, {"sort": "team"}])
                url = "/flags"
            else:
                kind, url, params = "child_page", f"/children/{rng.choice(children)}", {}
            t0 = time.perf_counter()
            try:
                r = await client.get(url, params=params)
                ok = r.status_code == 200
                if not ok:
                    errors.append(f"{kind} {r.status_code}")
            except httpx.HTTPError as exc:
                errors.append(f"{kind} {type(exc).__name__}")
                ok = False
            if ok:
                samples[kind].append((time.perf_counter() - t0) * 1000)
            i += 1
            await asyncio.sleep(rng.uniform(*think))


async def _load(base: str, password: str, children: list[str], users: int,
                seconds: float, think: tuple[float, float] = THINK,
                ) -> tuple[dict[str, list[float]], list[str], float]:
    samples: dict[str, list[float]] = {"flag_list": [], "child_page": []}
    errors: list[str] = []
    # Sign-ins (argon2) happen before the clock starts: stagger them, then measure.
    started = time.monotonic() + 2 + users * 0.7
    tasks = [asyncio.create_task(_user(base, password, children, started + seconds, samples,
                                       errors, random.Random(i), think))
             for i in range(users)]
    while time.monotonic() < started:
        await asyncio.sleep(0.1)
    for v in samples.values():
        v.clear()
    t0 = time.monotonic()
    await asyncio.gather(*tasks)
    return samples, errors, time.monotonic() - t0


def run(quick: bool) -> list[dict]:
    users, seconds = (5, 5.0) if quick else (50, 60.0)
    env, password, children, label = _prepare(quick)
    port = _free_port()
    code = _SERVER.format(port=port, workers=WORKERS)
    log = open(WORK / "server.log", "wb")  # noqa: SIM115 - closed in finally
    server = subprocess.Popen([sys.executable, "-c", code], env=env, stdout=log,
                              stderr=subprocess.STDOUT, cwd=WORK)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        import httpx

        while True:
            try:
                if httpx.get(f"{base}/sign-in", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError("the app server did not start: "
                                   + (WORK / "server.log").read_text()[-2000:])
            time.sleep(0.2)
        # warm-up (not measured): both workers open the warehouse and compile templates
        asyncio.run(_load(base, password, children, 2, 3.0, BASELINE_THINK))
        samples, errors, elapsed = asyncio.run(_load(base, password, children, users, seconds))
        # baseline, same (now warm) server and run: one user alone, short pauses
        alone, alone_errors, _ = asyncio.run(_load(base, password, children, 1,
                                                   3.0 if quick else 15.0, BASELINE_THINK))
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
    n = sum(len(v) for v in samples.values())
    figures = []
    for kind, title in (("flag_list", "flag list"), ("child_page", "child page")):
        if not samples[kind]:
            figures.append({"name": f"app {title} p95 latency", "value": None, "unit": "ms",
                            "baseline": None, "baseline_label": "none (judged against the target)",
                            "target": f"<= {TARGET_MS:.0f} ms, 0 errors", "passed": False,
                            "details": {"errors": len(errors),
                                        "error_examples": sorted(set(errors))[:5]}})
            continue
        lat = np.asarray(samples[kind])
        p95 = float(np.percentile(lat, 95))
        base_p95 = (round(float(np.percentile(alone[kind], 95)), 1) if alone[kind] else None)
        figures.append({
            "name": f"app {title} p95 latency ({users} signed-in users, {seconds:.0f} s)",
            "value": round(p95, 1), "unit": "ms",
            "baseline": base_p95, "baseline_label": "p95 of 1 user alone, same server",
            "target": f"<= {TARGET_MS:.0f} ms, 0 errors",
            "passed": bool(p95 <= TARGET_MS and not errors),
            "details": {"p50_ms": round(float(np.percentile(lat, 50)), 1),
                        "p99_ms": round(float(np.percentile(lat, 99)), 1),
                        "requests": len(samples[kind]), "errors": len(errors),
                        "baseline_requests": len(alone[kind]),
                        "baseline_errors": len(alone_errors),
                        "error_examples": sorted(set(errors))[:5],
                        "requests_per_second_all_pages": round(n / elapsed, 1),
                        "think_time_s": list(THINK), "data": label,
                        "server": f"uvicorn, {WORKERS} workers, SQLite app database, loopback",
                        "load_average_1min_after": round(os.getloadavg()[0], 2)},
        })
    return figures


if __name__ == "__main__":
    import json

    print(json.dumps(run(quick="--quick" in sys.argv), indent=2))
