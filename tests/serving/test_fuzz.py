"""Fuzz the live server from its own OpenAPI spec (schemathesis): whatever a client sends, never a 5xx.

Every operation is called with the admin key (so requests get past auth into the service) with inputs that
fit the spec (positive) and inputs that break it (negative); bounded to a few dozen examples per operation
and mode. Strategies per operation (`as_strategy`) rather than `schemathesis.pytest.from_fixture`, whose
lazy loader does not run under pytest 9.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.schemas import APIOperation
from tests.serving.server import Server, headers, new_pipeline

pytestmark = pytest.mark.slow
EXAMPLES = 30
NO_INPUT = {"/health", "/metrics"}  # no parameters or body: nothing to generate invalid values for


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory):
    with Server(new_pipeline(tmp_path_factory)) as running:
        yield running


def fuzz(operation: APIOperation, mode: GenerationMode, url: str) -> int:
    """Call one operation with generated cases; raises on the first 5xx (shrunk); returns the number of calls."""
    calls = 0

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def run(case: Case) -> None:
        nonlocal calls
        calls += 1
        case.call_and_validate(base_url=url, headers=headers("admin"), checks=[not_a_server_error])

    try:
        run()
    except Unsatisfiable:  # negative mode: an operation without parameters or body has nothing to break
        assert mode is GenerationMode.NEGATIVE and operation.path in NO_INPUT, operation.path
    return calls


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["positive", "negative"])
def test_no_generated_request_gets_a_server_error(fuzz_server, mode):
    schema = schemathesis.openapi.from_url(f"{fuzz_server.url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 11
    calls: dict[str, int] = {}
    failures: list[str] = []
    for operation in operations:
        name = f"{operation.method.upper()} {operation.path}"
        try:
            calls[name] = fuzz(operation, mode, fuzz_server.url)
        except Exception as exc:  # collect every operation's failure, then report them all
            failures.append(f"{name}: {exc}")
    assert not failures, "\n\n".join(failures) + f"\n\nserver log:\n{fuzz_server.log_tail()}"
    assert sum(calls.values()) >= 100, calls
