"""Schemathesis against both services' OpenAPI schemas (guarantees 6 and 8): generated requests
to every operation never get a 5xx, and every answer matches the schema. Both apps run in
this process, under a real uvicorn on loopback, with their lifespans."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from rel_support import ServerThread, ground_app, satellite_app

pytestmark = pytest.mark.integration
EXAMPLES = 12


def _checks() -> list[Any]:
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import response_schema_conformance

    return [not_a_server_error, response_schema_conformance]


def _fuzz_operation(operation: Any, base_url: str) -> int:
    """Run the bounded hypothesis loop of one operation; return the requests made."""
    hits: list[int] = []

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy())
    def run(case: Any) -> None:
        case.call_and_validate(base_url=base_url, checks=_checks(), timeout=30)
        hits.append(1)

    run()
    return len(hits)


def _fuzz_schema(base_url: str) -> dict[str, int]:
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    calls: dict[str, int] = {}
    for result in schema.get_all_operations():
        operation = result.ok()
        calls[f"{operation.method.upper()} {operation.path}"] = _fuzz_operation(operation, base_url)
    return calls


@pytest.fixture
def ground(tmp_path: Path) -> Iterator[ServerThread]:
    with ServerThread(ground_app(tmp_path / "ground")) as server:
        yield server


def test_ground_schema_no_5xx_and_answers_match(ground: ServerThread) -> None:
    calls = _fuzz_schema(ground.url)
    print(f"\nschemathesis ground: {sum(calls.values())} requests over {len(calls)} operations")
    assert len(calls) >= 5


def test_satellite_schema_no_5xx_and_answers_match(ground: ServerThread, tmp_path: Path) -> None:
    app = satellite_app(tmp_path / "sat", ground.url, run_worker=False, run_sender=False)
    with ServerThread(app) as sat:
        calls = _fuzz_schema(sat.url)
    print(f"\nschemathesis satellite: {sum(calls.values())} requests over {len(calls)} operations")
    assert len(calls) >= 5
