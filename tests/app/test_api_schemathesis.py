"""Property-based tests of the JSON API from its OpenAPI schema (schemathesis + hypothesis):
no 5xx, responses match the schema, and need-to-know holds whatever the inputs."""

from __future__ import annotations

import pytest
import schemathesis
from earlywarning.app._security import SESSION_COOKIE
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

SETTINGS = settings(max_examples=40, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


@pytest.fixture(scope="module")
def operations(env):
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", env.app)
    ops = [result.ok() for result in schema.get_all_operations()]
    assert {op.path for op in ops} == {"/api/flags", "/api/children/{person_id}"}
    return ops


@pytest.fixture(scope="module")
def cookies(env):
    return {role: {SESSION_COOKIE: env.signed_in(role).cookies.get(SESSION_COOKIE)}
            for role in ("lead", "practitioner", "ethics")}


def test_api_conforms_to_its_schema_and_never_fails(operations, cookies):
    seen: dict[str, set[int]] = {}
    for op in operations:
        @SETTINGS
        @given(case=op.as_strategy())
        def check(case):
            response = case.call(cookies=cookies["lead"])
            seen.setdefault(case.operation.path, set()).add(response.status_code)
            case.validate_response(response)

        check()
    assert 200 in seen["/api/flags"]
    assert seen["/api/children/{person_id}"] & {404, 422}


def test_api_refuses_other_roles_and_strangers_without_errors(operations, cookies):
    for op in operations:
        @settings(SETTINGS, max_examples=20)
        @given(case=op.as_strategy())
        def check(case):
            assert case.call(cookies=cookies["ethics"]).status_code == 403
            assert case.call().status_code == 401
            response = case.call(cookies=cookies["practitioner"])
            case.validate_response(response, checks=[not_a_server_error])
            if response.status_code == 200 and "flags" in response.json():
                assert len({f["team_id"] for f in response.json()["flags"]}) <= 1

        check()
