"""The JSON Schemas generated from the spec, and the stub that validates with them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from generator.render import Generator
from generator.schema import (
    DIALECT,
    error_schema,
    example_request,
    request_schema,
    response_schema,
)
from generator.stub import Site, Stub
from tests.support import generator_for, post, spec_variant

GOOD = {
    "type": "ValueError",
    "message": "m",
    "fingerprint": "ValueError:/x",
    "timestamp": 1700000000000,
}


def test_schemas_are_valid_2020_12_and_the_example_passes(generator: Generator) -> None:
    spec = generator.spec
    for schema in (request_schema(spec), response_schema(spec)):
        assert schema["$schema"] == DIALECT
        Draft202012Validator.check_schema(schema)
        for example in schema["examples"]:
            Draft202012Validator(schema).validate(example)
    error = example_request(spec)[spec.payload.errors_field][0]
    # The example holds every field, and the fingerprint follows the recipe.
    assert set(error) == {f.name for f in spec.payload.error_fields}
    assert error["fingerprint"] == f"{error['type']}:{error['url']}"


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({"siteId": "s1", "errors": [GOOD] * 21}, ["errors"]),
        ({"siteId": "s1", "errors": []}, ["errors"]),
        ({"errors": [GOOD]}, []),
        ({"siteId": 3, "errors": [GOOD]}, ["siteId"]),
        ({"siteId": "s1", "errors": [{**GOOD, "timestamp": "1700000000000"}]}, ["errors", 0]),
        ({"siteId": "s1", "errors": [{**GOOD, "lineno": True}]}, ["errors", 0, "lineno"]),
        ({"siteId": "s1", "errors": [{**GOOD, "color": "red"}]}, ["errors", 0]),
        ({"siteId": "s1", "errors": [GOOD], "color": "red"}, []),
        (
            {"siteId": "s1", "errors": [{k: v for k, v in GOOD.items() if k != "type"}]},
            ["errors", 0],
        ),
    ],
)
def test_bad_payloads_fail_the_schema_and_the_stub_refuses_them(
    generator: Generator, body: dict[str, Any], where: list[object]
) -> None:
    validator = Draft202012Validator(request_schema(generator.spec))
    errors = list(validator.iter_errors(body))
    assert errors, "the schema accepted a bad payload"
    assert any(list(error.absolute_path)[: len(where)] == where for error in errors)
    with Stub(generator.spec, {"s1": Site("k1")}) as stub:
        status, reply = post(stub, body)
        (received,) = stub.received
    assert status == 200 and reply["accepted"] == 0
    assert received.problems
    Draft202012Validator(response_schema(generator.spec)).validate(reply)


def test_one_bad_error_costs_only_itself(generator: Generator) -> None:
    body = {"siteId": "s1", "errors": [GOOD, {**GOOD, "timestamp": 1.5}, GOOD]}
    with Stub(generator.spec, {"s1": Site("k1")}) as stub:
        assert post(stub, body) == (200, {"accepted": 2})
        assert stub.received[0].problems == [
            "errors[1].timestamp should be a JSON integer, got 1.5"
        ]


def test_every_reply_of_the_stub_follows_the_response_schema(generator: Generator) -> None:
    validator = Draft202012Validator(response_schema(generator.spec))
    sites = {"s1": Site("k1"), "off": Site("k2", enabled=False), "small": Site("k3", quota=1)}
    with Stub(generator.spec, sites) as stub:
        replies = [
            post(stub, {"siteId": "s1", "errors": [GOOD]}),
            post(stub, {"siteId": "nope", "errors": [GOOD]}),
            post(stub, {"siteId": "off", "errors": [GOOD]}, key="k2"),
            post(stub, {"siteId": "small", "errors": [GOOD, GOOD]}, key="k3"),
        ]
    assert replies == [
        (200, {"accepted": 1}),
        (200, {"accepted": 0, "error": "Invalid site"}),
        (200, {"accepted": 0, "error": "Errors disabled"}),
        (200, {"accepted": 1, "limitReached": True}),
    ]
    for _, reply in replies:
        validator.validate(reply)
    with pytest.raises(Exception, match="is not valid"):
        validator.validate({"accepted": 0, "error": "Something else"})


def test_the_schema_follows_the_spec(tmp_path: Path) -> None:
    """Change the spec: the schema, and so the stub, follow it."""
    path = spec_variant(
        tmp_path,
        ("max_errors: 20", "max_errors: 3"),
        ("unknown_fields: false", "unknown_fields: true"),
        ("    - name: url\n      source: route", "    - name: route\n      source: route"),
    )
    spec = generator_for(path).spec
    schema = request_schema(spec)
    assert schema["properties"]["errors"]["maxItems"] == 3
    assert "additionalProperties" not in schema
    assert "route" in error_schema(spec)["properties"]
    with Stub(spec, {"s1": Site("k1")}) as stub:
        assert post(stub, {"siteId": "s1", "errors": [GOOD] * 4}) == (200, {"accepted": 0})
        extra = {**GOOD, "color": "red"}
        assert post(stub, {"siteId": "s1", "errors": [extra] * 3, "x": 1}) == (200, {"accepted": 3})
        assert stub.received[-1].problems == []


# Error objects: the spec's fields with values of any JSON type, some left out, and
# sometimes a field the spec does not name.
_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**60), 2**60),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=5),
    st.lists(st.integers(), max_size=2),
)
_NAMES = ["type", "message", "stack", "fingerprint", "timestamp", "url", "filename", "lineno"]
_ERRORS = st.one_of(
    st.dictionaries(st.sampled_from([*_NAMES, "extra"]), _VALUES, max_size=10),
    st.fixed_dictionaries(
        {},
        optional={
            "type": st.text(max_size=3),
            "message": st.text(max_size=3),
            "stack": st.text(max_size=3),
            "fingerprint": st.text(max_size=3),
            "timestamp": st.integers(0, 2**53),
            "url": st.text(max_size=3),
            "lineno": st.integers(0, 100),
        },
    ),
    _VALUES,
)


@pytest.fixture(scope="module")
def shared_stub(generator: Generator) -> Iterator[Stub]:
    with Stub(generator.spec, {"s1": Site("k1")}) as stub:
        yield stub


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batch=st.lists(_ERRORS, max_size=22))
def test_the_stub_accepts_exactly_what_the_schema_accepts(
    shared_stub: Stub, batch: list[Any]
) -> None:
    """Property: for any batch from a known site, the stub stores each error that the
    error schema accepts, or nothing when the batch itself breaks the schema."""
    spec = shared_stub.spec
    whole = Draft202012Validator(request_schema(spec))
    item = Draft202012Validator(error_schema(spec))
    body = {"siteId": "s1", "errors": batch}
    outside_items = [e for e in whole.iter_errors(body) if len(e.absolute_path) < 2]
    expected = 0 if outside_items else sum(item.is_valid(error) for error in batch)
    shared_stub.reset({"s1": Site("k1")})
    assert post(shared_stub, body) == (200, {"accepted": expected})


def test_integers_written_as_floats_are_taken_but_noted(generator: Generator) -> None:
    """JSON Schema counts 1.0 as an integer, so the error is stored; the stub still notes
    it, so that verify fails a reporter that writes integers so."""
    with Stub(generator.spec, {"s1": Site("k1")}) as stub:
        assert post(stub, {"siteId": "s1", "errors": [{**GOOD, "lineno": 3.0}]}) == (
            200,
            {"accepted": 1},
        )
        assert stub.received[0].problems == ["errors[0].lineno is written 3.0: send a JSON integer"]
        assert post(stub, {"siteId": "s1", "errors": [{**GOOD, "lineno": -1}]}) == (
            200,
            {"accepted": 0},
        )


def test_problems_of_a_hostile_body_stay_bounded(generator: Generator) -> None:
    extra = {f"k{i}": i for i in range(5000)}
    body = {"siteId": "s1", "errors": [{**GOOD, **extra}] * 20, **extra}
    with Stub(generator.spec, {"s1": Site("k1")}) as stub:
        assert post(stub, body) == (200, {"accepted": 0})
        problems = stub.received[0].problems
    assert len(problems) <= 101
    assert max(len(problem) for problem in problems) < 5000
    assert any(problem.endswith("; and 4980 more") for problem in problems)
