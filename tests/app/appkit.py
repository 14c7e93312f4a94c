"""Helpers for the web app tests: the app builder, sign-in and the shared page checker.

``check_page`` is the shared page checker every rendered page goes through:
status, one <title>, one <h1>, no duplicate ids, no inline script.
"""

from __future__ import annotations

import json
import re
import sqlite3
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

from earlywarning.app import create_app, load_settings
from earlywarning.app._commands import init_app_database
from fastapi.testclient import TestClient

ROLES_USERS = {
    "early_help_lead": "lead",
    "area_lead": "area_lead",
    "practitioner": "practitioner",
    "ethics_board": "ethics",
    "data_scientist": "scientist",
    "admin": "admin",
}


GOOD_RUN = "demo/20250601T000000"
BAD_RUN = "demo/20250501T000000"


def make_runs(root: Path, *, tracking_uri: str | None = None, version: str | None = None) -> Path:
    """Two audited runs shaped as training and the fairness audit write them.

    ``GOOD_RUN`` met both bars; ``BAD_RUN`` missed the performance bar. With
    ``tracking_uri`` and ``version`` the good run is registered in MLflow, so
    the gate can approve it.
    """
    import hashlib

    for key, passed in ((GOOD_RUN, True), (BAD_RUN, False)):
        path = root / key
        (path / "fairness").mkdir(parents=True)
        metrics = {
            "base_rate": 0.05,
            "models": {m: {"roc_auc": {"value": auc, "ci_low": auc - 0.02, "ci_high": auc + 0.02},
                           "precision_at_capacity": {"value": auc / 2}}
                       for m, auc in (("lightgbm", 0.81), ("rule", 0.70), ("prevalence", 0.5))},
            "pass_bar": {"passed": passed, "headline": "AUC 0.81 beats the rule by 0.11"
                         if passed else "AUC 0.62 does not beat the rule"},
            "run": {"pipeline": "demo", "candidate": "lightgbm"},
        }
        (path / "metrics.json").write_text(json.dumps(metrics))
        run = {"pipeline": "demo", "candidate": "lightgbm", "run_id": "",
               "registered_version": version if passed else None, "tracking_uri": tracking_uri}
        (path / "run.json").write_text(json.dumps(run))
        report = path / "fairness" / "ethics_report.html"
        report.write_text("<!DOCTYPE html><html lang=en><head><title>Ethics report</title></head>"
                          "<body><h1>Ethics report</h1><p>Calibration by group is within 2 "
                          "points.</p></body></html>")
        digest = hashlib.sha256(report.read_bytes()).hexdigest()
        (path / "fairness" / "audit.json").write_text(json.dumps(
            {"report_sha256": digest, "bar_passed": True, "model_name": "earlywarning-demo",
             "model_version": version or ""}))
        (path / "fairness" / "model_card.md").write_text(
            "# Model card\n\nIntended use: prompts for Early Help.\n\n<script>x()</script>\n")
        (path / "fairness" / "atrs_record.md").write_text("# ATRS record\n\n## Tier 1\n\nName: "
                                                          "Early warning\n")
    return root


@dataclass
class AppEnv:
    """An app with its settings and demo passwords."""

    app: object
    settings: object
    passwords: dict[str, str]
    tmp: Path

    def client(self, base_url: str = "http://127.0.0.1") -> TestClient:
        return TestClient(self.app, base_url=base_url)

    def signed_in(self, username: str) -> TestClient:
        c = self.client()
        sign_in(c, username, self.passwords[username])
        return c


def csrf_of(html: str) -> str:
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, "page has no CSRF field"
    return m.group(1)


def sign_in(client: TestClient, username: str, password: str):
    page = client.get("/sign-in")
    return client.post("/sign-in", data={"username": username, "password": password,
                                         "csrf_token": csrf_of(page.text)},
                       follow_redirects=False)


def build_env(tmp: Path, warehouse: Path, runs: Path | None = None,
              template: AppEnv | None = None, **overrides) -> AppEnv:
    """An app with its own database: imported from ``warehouse``, or copied from
    ``template``'s database (much faster; same demo passwords)."""
    tmp.mkdir(parents=True, exist_ok=True)
    overrides.setdefault("database_url", f"sqlite:///{tmp / 'app.db'}")
    settings = load_settings(environ={}, demo_mode=True, warehouse_path=warehouse,
                             runs_dir=runs or make_runs(tmp / "runs"), **overrides)
    if template is not None:
        src = Path(template.settings.database_url.split("///", 1)[1])
        with sqlite3.connect(src) as source, sqlite3.connect(tmp / "app.db") as dest:
            source.backup(dest)
        passwords = template.passwords
    else:
        result = init_app_database(settings, users_file=tmp / "demo_users.txt")
        passwords = {u.username: u.password for u in result.users}
    return AppEnv(create_app(settings), settings, passwords, tmp)


_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
         "track", "wbr", "path"}


class _PageParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.mismatches: list[str] = []
        self.ids: list[str] = []
        self.titles: list[str] = []
        self.h1 = 0
        self._in_title = False
        self.script_srcs: list[str | None] = []

    def handle_starttag(self, tag, attrs):
        if tag not in _VOID:
            self.stack.append(tag)
        a = dict(attrs)
        if "id" in a:
            self.ids.append(a["id"])
        if tag == "title":
            self._in_title = True
            self.titles.append("")
        if tag == "h1":
            self.h1 += 1
        if tag == "script":
            self.script_srcs.append(a.get("src"))

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in _VOID:
            self.stack.pop()

    def handle_endtag(self, tag):
        if tag in _VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.mismatches.append(f"</{tag}> closes <{self.stack[-1] if self.stack else ''}>")
        else:
            self.stack.pop()
        if tag == "title":
            self._in_title = False

    def handle_data(self, data):
        if self._in_title:
            self.titles[-1] += data


def check_page(response, status: int = 200, title: str | None = None) -> _PageParser:
    """The shared page checker (GOV.UK services habit)."""
    assert response.status_code == status, response.text[:500]
    assert response.headers["content-type"].startswith("text/html")
    p = _PageParser()
    p.feed(response.text)
    assert len(p.titles) == 1 and p.titles[0].strip(), "page needs exactly one non-empty <title>"
    assert p.h1 == 1, f"page needs exactly one <h1>, has {p.h1}"
    assert not p.mismatches and not p.stack, f"unbalanced HTML: {p.mismatches[:3]} {p.stack}"
    dupes = {i for i in p.ids if p.ids.count(i) > 1}
    assert not dupes, f"duplicate ids: {dupes}"
    assert all(src for src in p.script_srcs), "inline <script> found (CSP forbids it)"
    assert response.text.lstrip().lower().startswith("<!doctype html>")
    if title is not None:
        assert p.titles[0].strip().startswith(title), p.titles[0]
    return p


def run_cli(*args) -> str:
    """Run ``earlywarning ARGS`` in a subprocess; return its output (fails on exit != 0)."""
    import os
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "earlywarning.cli", *map(str, args)],
                          capture_output=True, text=True, env={**os.environ, "COLUMNS": "200"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout
