"""The app's database layer on PostgreSQL, unchanged but for the URL.

Starts a throwaway Debian PostgreSQL server in a temporary folder (unix
socket only, no TCP) for the duration of the module. Skipped, with the
reason, only when the server binaries are not installed.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest
from appkit import build_env, csrf_of
from earlywarning.app._models import AuditEvent, Decision, Flag
from sqlalchemy import select, text
from sqlalchemy.exc import DatabaseError

pytestmark = pytest.mark.slow

_BINS = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))


def _as_postgres(cmd: list[str]) -> list[str]:
    if os.geteuid() == 0:  # the server refuses to run as root
        return ["runuser", "-u", "postgres", "--", *cmd]
    return cmd


@pytest.fixture(scope="module")
def pg_url():
    if not _BINS:
        pytest.skip("PostgreSQL server binaries are not installed "
                    "(apt-get install postgresql to run this test)")
    bindir = Path(_BINS[-1]).parent
    # Not under pytest's tmp folder: the postgres user must be able to reach it.
    root = Path(tempfile.mkdtemp(prefix="ew-app-pg-"))
    data, sock = root / "data", root / "sock"
    sock.mkdir()
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        shutil.chown(sock, "postgres")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    init = subprocess.run(_as_postgres([str(bindir / "initdb"), "-D", str(data), "-U",
                                        "postgres", "--auth=trust", "-E", "UTF8"]),
                          capture_output=True, text=True)
    assert init.returncode == 0, init.stdout + init.stderr
    opts = f"-c listen_addresses='' -c unix_socket_directories={sock} -p {port} -c fsync=off"
    subprocess.run(_as_postgres([str(bindir / "pg_ctl"), "-D", str(data), "-o", opts, "-w",
                                 "-l", str(root / "log"), "start"]),
                   check=True, capture_output=True)
    try:
        subprocess.run(_as_postgres([str(bindir / "createdb"), "-h", str(sock), "-p",
                                     str(port), "-U", "postgres", "earlywarning"]),
                       check=True, capture_output=True)
        yield f"postgresql+psycopg://postgres@/earlywarning?host={sock}&port={port}"
    finally:
        subprocess.run(_as_postgres([str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast",
                                     "-w", "stop"]), capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def pg_env(pg_url, tmp_path_factory, sample_warehouse):
    env = build_env(tmp_path_factory.mktemp("pgapp"), sample_warehouse, database_url=pg_url)
    assert env.app.state.engine.dialect.name == "postgresql"
    return env


def test_import_flag_list_and_scope_work_on_postgres(pg_env):
    client = pg_env.signed_in("lead")
    for sort in ("rank", "risk", "team", "area", "status", "freshness"):
        page = client.get("/flags", params={"sort": sort, "status": "new"})
        assert page.status_code == 200, page.text[:300]
    assert client.get("/children/P00000C").status_code == 200
    lead = client.get("/api/flags", params={"sort": "status"}).json()
    assert lead["total"] == 40
    prac = pg_env.signed_in("practitioner").get("/api/flags").json()
    assert 0 < prac["total"] < 40 and len({f["team_id"] for f in prac["flags"]}) == 1


def test_decisions_and_audit_are_append_only_on_postgres(pg_env):
    c = pg_env.signed_in("lead")
    page = c.get("/children/P00001C")
    assert page.status_code == 200
    for version in (1, 2):
        r = c.post("/children/P00001C/decisions",
                   data={"decision": "offer_early_help", "agrees": "yes",
                         "rationale": f"version {version}",
                         "csrf_token": csrf_of(c.get("/children/P00001C").text)},
                   follow_redirects=False)
        assert r.status_code == 303
    engine = pg_env.app.state.engine
    with pg_env.app.state.sessionmaker() as db:
        assert [d.version for d in db.scalars(select(Decision).order_by(Decision.version))] \
            == [1, 2]
        assert db.scalar(select(AuditEvent).where(AuditEvent.action == "view_child"))
    for stmt in ("UPDATE audit_events SET username = 'x'", "DELETE FROM decisions",
                 "TRUNCATE audit_events CASCADE"):
        with pytest.raises(DatabaseError, match="append-only"), engine.begin() as conn:
            conn.execute(text(stmt))


def test_ethics_admin_and_overrides_pages_work_on_postgres(pg_env):
    ethics = pg_env.signed_in("ethics")
    for path in ("/ethics", "/ethics/overrides", "/runs"):
        assert ethics.get(path).status_code == 200, path
    admin = pg_env.signed_in("admin")
    assert admin.get("/admin/audit").status_code == 200
    assert admin.get("/admin/audit.csv").text.startswith("id,at,username")


def test_filters_with_injection_attempts_are_harmless_on_postgres(pg_env):
    c = pg_env.signed_in("lead")
    r = c.get("/api/flags", params={"team": "x' OR '1'='1"})
    assert r.status_code == 200 and r.json()["total"] == 0
    with pg_env.app.state.sessionmaker() as db:
        assert db.query(Flag).count() == 40
