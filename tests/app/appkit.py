"""Helpers for the web app tests: the app builder, sign-in and the shared page checker.

``check_page`` is the shared page checker every rendered page goes through:
status, one <title>, one <h1>, no duplicate ids, no inline script.
"""

from __future__ import annotations

import json
import re
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


def make_runs(root: Path) -> Path:
    """Two model runs: one that met its pass bar, one that did not."""
    good = root / "demo" / "20250601T000000"
    bad = root / "demo" / "20250501T000000"
    for path, passed in ((good, True), (bad, False)):
        path.mkdir(parents=True)
        (path / "metrics.json").write_text(json.dumps({
            "passed": passed, "mlflow_run_id": "abc123",
            "test": {"roc_auc": 0.81, "average_precision": 0.32, "base_rate": 0.05,
                     "precision_at_capacity": 0.41}}))
        (path / "ethics_report.html").write_text(
            "<!doctype html><html lang=en><head><title>Ethics report</title></head>"
            "<body><h1>Ethics report</h1><p>Calibration by group is within 2 points.</p>"
            "</body></html>")
        (path / "model_card.md").write_text(
            "# Model card\n\nIntended use: prompts for Early Help.\n\n<script>x()</script>\n")
        (path / "atrs.json").write_text(json.dumps({"tier_1": {"name": "Early warning"}}))
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


def build_env(tmp: Path, warehouse: Path, **overrides) -> AppEnv:
    settings = load_settings(
        environ={}, demo_mode=True, database_url=f"sqlite:///{tmp / 'app.db'}",
        warehouse_path=warehouse, runs_dir=make_runs(tmp / "runs"), **overrides)
    result = init_app_database(settings, users_file=tmp / "demo_users.txt")
    return AppEnv(create_app(settings), settings,
                  {u.username: u.password for u in result.users}, tmp)


class _PageParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: list[str] = []
        self.titles: list[str] = []
        self.h1 = 0
        self._in_title = False
        self.script_srcs: list[str | None] = []

    def handle_starttag(self, tag, attrs):
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

    def handle_endtag(self, tag):
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
    dupes = {i for i in p.ids if p.ids.count(i) > 1}
    assert not dupes, f"duplicate ids: {dupes}"
    assert all(src for src in p.script_srcs), "inline <script> found (CSP forbids it)"
    assert response.text.lstrip().lower().startswith("<!doctype html>")
    if title is not None:
        assert p.titles[0].strip().startswith(title), p.titles[0]
    return p
