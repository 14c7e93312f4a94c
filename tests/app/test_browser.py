"""Browser tests: Playwright driving Debian's chromium (never a downloaded browser).

A lead signs in, opens a flag, reads its reasons and records an override; an
ethics board member approves a run; every page passes axe-core with no
serious or critical violations; the main flow also works with JavaScript off.
Screenshots go to ``test-artifacts/app/``.
"""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import pytest
from appkit import GOOD_RUN, build_env, make_runs

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = Path("/usr/bin/chromium")
AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "app"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]

if not CHROMIUM.exists():
    pytest.skip("Debian's chromium is not installed (run `make system-deps`)",
                allow_module_level=True)
if not AXE.exists():
    pytest.skip("axe-core is not installed (run `make setup`, which runs npm ci)",
                allow_module_level=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def live(tmp_path_factory, sample_warehouse, template_env):
    """The app served by uvicorn on loopback, with an MLflow-registered run to approve."""
    import uvicorn
    from mlflow import MlflowClient

    tmp = tmp_path_factory.mktemp("live")
    uri = f"sqlite:///{tmp / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    client.create_registered_model("earlywarning-demo")
    version = client.create_model_version("earlywarning-demo", source=str(tmp)).version
    runs = make_runs(tmp / "runs", tracking_uri=uri, version=str(version))
    env = build_env(tmp / "env", sample_warehouse, runs=runs, template=template_env)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(env.app, host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    env.base_url = f"http://127.0.0.1:{port}"
    env.mlflow = (client, version)
    yield env
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield b
        b.close()


def _page(browser, js: bool = True):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True,
                                  java_script_enabled=js)
    return context.new_page()


def _shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def _sign_in(page, live, username: str) -> None:
    page.goto(f"{live.base_url}/sign-in")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(live.passwords[username])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


def _axe(page) -> list[dict]:
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("""async () => await axe.run(document, {runOnly: {type: 'tag',
        values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice']}})""")
    return [{"id": v["id"], "impact": v["impact"], "help": v["help"],
             "nodes": [n["target"] for n in v["nodes"]][:3]}
            for v in result["violations"] if v["impact"] in ("serious", "critical")]


def test_lead_reads_an_explained_flag_and_records_an_override(live, browser):
    page = _page(browser)
    _sign_in(page, live, "lead")
    assert page.get_by_role("heading", name="Flags", level=1).is_visible()
    _shot(page, "01-flag-list")
    page.locator("table.govuk-table tbody a").first.click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", name="Reasons for and against").is_visible()
    reasons = page.locator("#reasons ~ .govuk-grid-row li").all_inner_texts()
    assert reasons and all(r.strip() for r in reasons)
    assert "children with a similar record came into care" in page.content()
    assert page.get_by_text("supports your professional judgment").is_visible()
    assert page.get_by_role("heading", name="Family context and who to call").is_visible()
    _shot(page, "02-child-page")
    page.get_by_label("No action").check()
    page.get_by_label("No, I am overriding it").check()
    page.get_by_label("I know things about the family that the data does not show").check()
    rationale = "Family already working with the school nurse."
    page.get_by_role("textbox", name="Rationale").fill(rationale)
    page.get_by_role("button", name="Record decision").click()
    page.wait_for_load_state()
    assert page.get_by_text("Decision recorded (version 1).").is_visible()
    assert page.get_by_text("Family already working with the school nurse.").is_visible()
    _shot(page, "03-override-recorded")
    page.context.close()


def test_decision_form_shows_errors_and_works_without_javascript(live, browser):
    page = _page(browser, js=False)
    _sign_in(page, live, "lead")
    page.goto(f"{live.base_url}/children/P00002C")
    page.get_by_role("button", name="Record decision").click()
    page.wait_for_load_state()
    assert page.title().startswith("Error: ")
    assert page.get_by_role("link", name="Select a decision").is_visible()
    _shot(page, "04-decision-errors-no-js")
    page.get_by_label("Offer Early Help").check()
    page.get_by_label("Yes, I agree").check()
    page.get_by_role("textbox", name="Rationale").fill("Agreed with the family at the visit.")
    page.get_by_role("button", name="Record decision").click()
    page.wait_for_load_state()
    assert page.get_by_text("Decision recorded (version 1).").is_visible()
    page.context.close()


def test_ethics_board_member_approves_the_model(live, browser):
    page = _page(browser)
    _sign_in(page, live, "ethics")
    page.get_by_role("link", name=GOOD_RUN).first.click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", name="Model card", level=2).is_visible()
    assert page.frame_locator("iframe[title='Ethics report']").get_by_role(
        "heading", name="Ethics report").is_visible()
    _shot(page, "05-ethics-run")
    page.get_by_role("radio", name="Approve").check()
    reasons = "Both bars met; calibration by group reviewed."
    page.get_by_role("textbox", name="Reasons").fill(reasons)
    page.get_by_role("button", name="Record review").click()
    page.wait_for_load_state()
    assert page.get_by_text("Decision recorded: approved.").is_visible()
    _shot(page, "06-ethics-approved")
    client, version = live.mlflow
    assert client.get_model_version_by_alias("earlywarning-demo", "champion").version == version
    page.context.close()


PAGES = {
    "anon": ["/sign-in", "/accessibility", "/children/P00000C"],
    "lead": ["/flags", "/flags?page=2&sort=risk&order=desc", "/children/P00000C",
             "/children/P00005C", "/accessibility"],
    "practitioner": ["/flags", "/children/P00005C"],
    "ethics": ["/ethics", f"/ethics/runs/{GOOD_RUN}", "/ethics/overrides", "/runs"],
    "scientist": ["/runs"],
    "admin": ["/admin/audit", "/admin/audit?action=view_child", "/nowhere"],
}


def test_every_page_has_no_serious_or_critical_accessibility_violations(live, browser):
    problems = {}
    for user, paths in PAGES.items():
        page = _page(browser)
        if user != "anon":
            _sign_in(page, live, user)
        for path in paths:
            page.goto(f"{live.base_url}{path}")
            page.wait_for_load_state()
            found = _axe(page)
            if found:
                problems[f"{user} {path}"] = found
            slug = path.strip("/").replace("/", "_").replace("?", "_") or "home"
            _shot(page, f"axe-{user}-{slug}")
        page.context.close()
    # the sign-in page with its error summary, too
    page = _page(browser)
    page.goto(f"{live.base_url}/sign-in")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
    if found := _axe(page):
        problems["anon sign-in errors"] = found
    page.set_content("<!DOCTYPE html><html lang='en'><head><title>t</title></head><body>"
                     "<main><h1>Check the checker</h1><img src='x.png'></main></body></html>")
    assert "image-alt" in {v["id"] for v in _axe(page)}, "axe did not run"
    page.context.close()
    assert not problems, problems
