"""The stub keeps the spec's contract and records what is wrong with a request."""

from __future__ import annotations

import io
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from generator.render import Generator
from generator.stub import Faults, Site, Stub
from tests.support import generator_for, post, spec_variant

GOOD_ERROR = {
    "type": "ValueError",
    "message": "boom",
    "stack": "Traceback ...",
    "fingerprint": "ValueError:/checkout",
    "timestamp": 1_700_000_000_000,
    "url": "/checkout",
    "filename": "app.py",
    "lineno": 3,
}


@pytest.fixture
def stub(generator: Generator, tmp_path: Path) -> Iterator[Stub]:
    sites = {
        "s1": Site("k1"),
        "off": Site("k2", enabled=False),
        "small": Site("k3", quota=2),
    }
    with Stub(generator.spec, sites, log_path=tmp_path / "log.jsonl") as running:
        yield running


def test_valid_batch_is_accepted_and_logged(stub: Stub, tmp_path: Path) -> None:
    assert post(stub, {"siteId": "s1", "errors": [GOOD_ERROR, GOOD_ERROR]}) == (
        200,
        {"accepted": 2},
    )
    assert stub.received[0].problems == []
    assert stub.errors() == [GOOD_ERROR, GOOD_ERROR]
    logged = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert logged[0]["json"]["errors"][0] == GOOD_ERROR
    assert logged[0]["headers"]["x-nevision-api-key"] == "k1"


def test_unknown_site_and_wrong_key_are_invalid_site(stub: Stub) -> None:
    invalid = {"accepted": 0, "error": "Invalid site"}
    assert post(stub, {"siteId": "nope", "errors": [GOOD_ERROR]}) == (200, invalid)
    assert post(stub, {"siteId": "s1", "errors": [GOOD_ERROR]}, key="bad") == (200, invalid)


def test_disabled_site(stub: Stub) -> None:
    reply = post(stub, {"siteId": "off", "errors": [GOOD_ERROR]}, key="k2")
    assert reply == (200, {"accepted": 0, "error": "Errors disabled"})


def test_quota_gives_limit_reached(stub: Stub) -> None:
    body = {"siteId": "small", "errors": [GOOD_ERROR] * 3}
    assert post(stub, body, key="k3") == (200, {"accepted": 2, "limitReached": True})
    assert post(stub, body, key="k3") == (200, {"accepted": 0, "limitReached": True})


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({"siteId": "s1", "errors": []}, "errors has 0 items, not 1 to 20"),
        ({"siteId": "s1", "errors": [GOOD_ERROR] * 21}, "errors has 21 items, not 1 to 20"),
        ({"siteId": "s1", "errors": {}}, "errors should be a JSON array, got {}"),
        ({"siteId": "s1", "errors": [{**GOOD_ERROR, "timestamp": 1.5}]}, "timestamp should be a"),
        ({"siteId": "s1", "errors": [{**GOOD_ERROR, "lineno": "3"}]}, "lineno should be a JSON"),
        ({"siteId": "s1", "errors": [{**GOOD_ERROR, "extra": 1}]}, "extra is not a field"),
        ({"siteId": "s1", "errors": [{"type": "X"}]}, "errors[0].message is missing"),
        ({"siteId": "s1", "errors": [GOOD_ERROR], "x": 1}, "x is not a field of the spec"),
        ({"errors": [GOOD_ERROR]}, "siteId is missing"),
        ({"siteId": "s1", "errors": [{**GOOD_ERROR, "timestamp": "1700000000000"}]}, "timestamp"),
    ],
)
def test_invalid_bodies_are_not_accepted_and_say_why(
    stub: Stub, body: dict[str, Any], problem: str
) -> None:
    status, reply = post(stub, body)
    assert status == 200
    assert reply["accepted"] == 0
    assert any(problem in found for found in stub.received[0].problems), stub.received[0].problems


def test_optional_fields_may_be_left_out(stub: Stub) -> None:
    error = {k: v for k, v in GOOD_ERROR.items() if k not in ("stack", "filename", "lineno", "url")}
    assert post(stub, {"siteId": "s1", "errors": [error]}) == (200, {"accepted": 1})
    assert stub.received[0].problems == []


def test_body_that_is_not_json_or_not_utf8(stub: Stub) -> None:
    assert post(stub, None, raw=b"{nope") == (200, {"accepted": 0})
    assert post(stub, None, raw=b'{"siteId": "\xff"}') == (200, {"accepted": 0})
    assert all("not valid UTF-8 JSON" in r.problems[0] for r in stub.received)
    assert "\ufffd" in stub.received[1].body


def test_wrong_content_type_and_path(stub: Stub) -> None:
    post(stub, {"siteId": "s1", "errors": [GOOD_ERROR]}, content_type="text/plain")
    assert "Content-Type is 'text/plain'" in stub.received[0].problems[0]
    assert post(stub, {}, path="/elsewhere")[0] == 404


def test_faults_change_the_answer(generator: Generator) -> None:
    with Stub(generator.spec, {"s1": Site("k1")}, faults=Faults(status=500, body=b"oops")) as stub:
        request = urllib.request.Request(
            stub.base_url + "/public/errors/ingest", data=b"{}", method="POST"
        )
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(request, timeout=5)
        assert caught.value.code == 500
        assert caught.value.read() == b"oops"


def test_echo_names_the_fields_the_spec_names(tmp_path: Path) -> None:
    renamed = (
        "    - name: message\n      source: message",
        "    - name: text\n      source: message",
    )
    generator = generator_for(spec_variant(tmp_path, renamed))
    echo = io.StringIO()
    with Stub(generator.spec, {"s1": Site("k1")}, echo=echo) as stub:
        error = {k: v for k, v in GOOD_ERROR.items() if k != "message"} | {"text": "boom"}
        assert post(stub, {"siteId": "s1", "errors": [error]}) == (200, {"accepted": 1})
    assert 'type="ValueError" text="boom" url="/checkout" (accepted 1)' in echo.getvalue()
