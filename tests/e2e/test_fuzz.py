"""Schemathesis against the running dev stack, driven by the OpenAPI document the stack serves.

Every operation of ``GET /api/openapi.json`` is fuzzed with valid (positive) and invalid (negative) data, and
every response must hold the contract: never a 5xx, a status the document declares, the declared content type,
the declared headers, a body matching the declared schema, and invalid input refused with a 4xx.

Generated ids alone would only ever meet "not found", so positive cases sometimes get real values of the
demo data instead (conversations, messages, an attachment, patterns, users, cursors, page sizes, message
texts: ``KnownData``), which takes the fuzzer into the sending, reading, paging and signing code. Negative
components are never touched, so what is invalid stays invalid.

The run is bounded and deterministic (derandomized Hypothesis, no example database): ``FUZZ_EXAMPLES``
(default ``DEFAULT_EXAMPLES``) examples per operation in the fuzzing phase, plus schemathesis' coverage phase
(boundary values, one invalid value per constraint, unexpected methods). ``make fuzz`` raises the budget.
At the end of the module the run's figures are printed (operations, cases, statuses).

Schemathesis only generates strings it can encode (UTF-8), so it never sends a lone surrogate, which JSON can
escape (``"\\ud800"``); ``test_a_lone_surrogate_in_a_message_is_refused`` probes that by hand (a finding).

One test per operation, each named after its ``operationId`` (``test_post_api_messages``): with pytest 9.2,
schemathesis 4's items of one ``parametrize``-d function all get the same node id, and its fixture-based
loader (``schemathesis.pytest.from_fixture``) fails on ``Function._nodeid``, so the document is loaded at
import from ``docs/openapi.json``; ``test_the_stack_serves_the_fuzzed_document`` holds it equal to what the
stack serves.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import strategies as st
from schemathesis import Case, HookContext, Response
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.parameters import ParameterLocation

from dev.seed import ALICE, AMIGURUMI_FOX, BOB, CAROL, GRANNY_SQUARE
from tests.e2e.api_client import json_of
from tests.e2e.conftest import ROOT, RunningStack

pytestmark = pytest.mark.e2e

DEFAULT_EXAMPLES = 30  # ~60 s for the module on 2 cores, the stack's start included
FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES") or DEFAULT_EXAMPLES)
SEED = 20261124  # with derandomized Hypothesis: the same cases on every machine and every run
REQUEST_TIMEOUT_SECONDS = 10
CALLER = BOB  # the demo buyer: he has a purchase and conversations, so real ids lead somewhere
SERVICE_CALLER = "platform"
# Every response is checked against all of these (`st explain` describes each).
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]
# How invalid data may be refused: schemathesis' default list plus 413 (a body over 64 KB, a declared upload
# size over the limit). 5xx is in that list only because `not_a_server_error` reports it already.
REJECTION_STATUSES = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429", "5xx"]
# Methods the coverage phase sends to each path to see them refused (Chalice answers a JSON 405). TRACE and
# QUERY are left out: Chalice's local server (http.server) answers them with an HTML 501 before the app is
# involved, and API Gateway, which serves production, does not route them.
UNEXPECTED_METHODS = ["get", "put", "post", "delete", "options", "patch"]
MESSAGE_MAX_CHARS = 5000  # settings.message_max_chars, the stack's default
KEEP = object()  # a slot left as generated
DROP = object()  # a key a patch removes


@dataclass(frozen=True)
class Slot:
    """Where a real value may replace a generated one: a path parameter ``name``; in a query or a body, one of
    several patches (``{key: value or DROP}``), so that keys which only make sense together change together."""

    location: ParameterLocation
    name: str
    values: tuple[Any, ...]

    def apply(self, case: Case, value: Any) -> None:
        """Put ``value`` into ``case`` (in place: schemathesis re-validates the components a test edits)."""
        if self.location is ParameterLocation.PATH:
            case.path_parameters = {**(case.path_parameters or {}), self.name: value}
        elif self.location is ParameterLocation.QUERY:
            case.query = patched(case.query or {}, value)
        elif isinstance(case.body, dict):
            case.body = patched(case.body, value)


def patched(container: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """``container`` with ``patch``'s keys set, or removed where the patch says DROP."""
    merged = {**container, **patch}
    return {key: item for key, item in merged.items() if item is not DROP}


def path(name: str, *values: str) -> Slot:
    """Path parameter ``name`` may be one of ``values``."""
    return Slot(ParameterLocation.PATH, name, values)


def query(*patches: dict[str, Any]) -> Slot:
    """The query string may get one of ``patches``."""
    return Slot(ParameterLocation.QUERY, "", patches)


def body(*patches: dict[str, Any]) -> Slot:
    """A JSON object body may get one of ``patches``."""
    return Slot(ParameterLocation.BODY, "", patches)


@dataclass(frozen=True)
class KnownData:
    """Real values of the demo data: the caller's and a stranger's ids, and cursors of the caller's."""

    conversation_ids: tuple[str, ...]
    message_ids: tuple[str, ...]
    attachment_ids: tuple[str, ...]
    list_cursors: tuple[str, ...]
    sync_cursors: tuple[str, ...]
    deletable_ids: tuple[str, ...] = ()  # bob's own, for DELETE (the others stay undeleted for the rest)

    def slots(self) -> dict[str, list[Slot]]:
        """Per operation label, the slots its positive cases may fill with real values."""
        patterns, users = (GRANNY_SQUARE, AMIGURUMI_FOX), (ALICE, BOB, CAROL)
        page_sizes = query(*({"limit": size} for size in (1, 2, 20)))
        texts = ("Which hook size for the border?", "  trimmed  ", "Ça va ? 🧶", "x" * MESSAGE_MAX_CHARS)
        listing = [{"cursor": c} for c in self.list_cursors]
        history = [
            {"before": DROP, "after": DROP},
            *({"before": m, "after": DROP} for m in self.message_ids),
            *({"after": m, "before": DROP} for m in self.message_ids),
        ]
        to_conversation = [{"conversationId": c, "recipientId": DROP, "patternId": DROP} for c in self.conversation_ids]
        to_user = [{"recipientId": u, "conversationId": DROP, "patternId": DROP} for u in users]
        about_pattern = [{"recipientId": ALICE, "patternId": p, "conversationId": DROP} for p in patterns]
        attachments = [{"attachment": DROP}, *({"attachment": {"attachmentId": a}} for a in self.attachment_ids)]
        quotes = [{"replyTo": DROP}, *({"replyTo": {"messageId": m}} for m in self.message_ids)]
        emoji = path("emoji", "🧶", "👍", "❤️", "❤", "%F0%9F%A7%B6")
        return {
            "GET /api/messages": [query(*listing), page_sizes],
            "GET /api/messages/conversations/{conversationId}": [
                path("conversationId", *self.conversation_ids),
                query(*history),
                page_sizes,
            ],
            "GET /api/messages/conversations": [query(*({"cursor": c} for c in self.list_cursors)), page_sizes],
            "GET /api/messages/sync": [query(*({"since": c} for c in self.sync_cursors)), page_sizes],
            "GET /api/messages/pattern/{patternId}": [
                path("patternId", *patterns),
                query(*({"creatorId": u} for u in users)),
            ],
            "PUT /api/messages/{messageId}/read": [path("messageId", *self.message_ids)],
            "PATCH /api/messages/{messageId}": [
                path("messageId", *self.message_ids),
                body(*({"content": text} for text in texts)),
            ],
            "DELETE /api/messages/{messageId}": [path("messageId", *self.deletable_ids, *self.message_ids[1:])],
            "PUT /api/messages/{messageId}/reactions/{emoji}": [path("messageId", *self.message_ids), emoji],
            "DELETE /api/messages/{messageId}/reactions/{emoji}": [path("messageId", *self.message_ids), emoji],
            "GET /api/attachments/{attachmentId}": [path("attachmentId", *self.attachment_ids)],
            "POST /api/messages": [
                body(*to_conversation, *to_user, *about_pattern),
                body(*({"content": text} for text in texts)),
                body(*attachments),
                body(*quotes),
            ],
            "POST /api/attachments": [
                body(*({"conversationId": c} for c in self.conversation_ids)),
                body({"contentType": "image/png"}, {"contentType": "application/pdf"}, {"contentType": "text/plain"}),
                body({"size": 1}, {"size": 1024}, {"size": 10 * 1024 * 1024}),
            ],
        }


def gather_known_data(stack: RunningStack) -> KnownData:
    """Bob opens his conversation about the blanket, gets a message from alice, asks for an upload; carol
    writes to alice (a conversation and a message that are not bob's to see); cursors of bob's lists."""
    bob, alice = stack.caller(BOB), stack.caller(ALICE)
    opened = bob.open_pattern_conversation(GRANNY_SQUARE)  # 201 on a fresh stack, 200 on a used one
    blanket = json_of(opened, 201 if opened.status_code == 201 else 200)["conversation"]["id"]
    question = json_of(bob.send(blanket, "Which hook size for the border?"), 201)["message"]["id"]
    welcome = json_of(alice.send_to(BOB, "Welcome, Bob!"), 201)
    strangers = json_of(stack.caller(CAROL).send_to(ALICE, "Hello from Carol"), 201)
    upload = {"conversationId": blanket, "fileName": "swatch.png", "contentType": "image/png", "size": 1024}
    ticket = json_of(bob.request("POST", "/api/attachments", upload), 201)
    deletable = json_of(bob.send(blanket, "This one may go."), 201)["message"]["id"]
    cursors = [
        json_of(bob.request("GET", list_path), 200)["nextCursor"]
        for list_path in ("/api/messages/conversations?limit=1", "/api/messages?limit=1")
    ]
    return KnownData(
        conversation_ids=(blanket, welcome["conversation"]["id"], strangers["conversation"]["id"]),
        message_ids=(question, welcome["message"]["id"], strangers["message"]["id"]),
        attachment_ids=(ticket["attachmentId"],),
        list_cursors=tuple(cursor for cursor in cursors if cursor),
        sync_cursors=(json_of(bob.request("GET", "/api/messages/sync"), 200)["nextCursor"],),
        deletable_ids=(deletable,),
    )


def with_known_data(slots: dict[str, list[Slot]], case: Case) -> st.SearchStrategy[Case]:
    """``case`` with each slot of a positive component either kept or filled with one of its real values."""
    meta = case.meta
    usable = [
        slot
        for slot in slots.get(case.operation.label, [])
        if slot.values and meta is not None and not meta.is_negative_at(slot.location)
    ]
    if not usable:
        return st.just(case)

    def fill(picks: tuple[Any, ...]) -> Case:
        for slot, value in zip(usable, picks, strict=True):
            if value is not KEEP:
                slot.apply(case, value)
        return case

    # Real values first: Hypothesis leans towards the first choices, and the generated value stays one of them.
    return st.tuples(*(st.sampled_from((*slot.values, KEEP)) for slot in usable)).map(fill)


@dataclass
class Tally:
    """What the run sent and got back (the figures SECURITY.md quotes)."""

    statuses: dict[str, Counter[int]] = field(default_factory=dict)  # per operation label
    modes: Counter[str] = field(default_factory=Counter)

    def record(self, case: Case, response: Response) -> None:
        self.statuses.setdefault(case.operation.label, Counter())[response.status_code] += 1
        self.modes[case.meta.generation.mode.value if case.meta is not None else "explicit"] += 1

    def lines(self) -> list[str]:
        modes = ", ".join(f"{count} {mode}" for mode, count in sorted(self.modes.items()))
        lines = [
            f"fuzz: {len(self.statuses)} operations, {self.modes.total()} cases ({modes}), "
            f"FUZZ_EXAMPLES={FUZZ_EXAMPLES}"
        ]
        for label, statuses in sorted(self.statuses.items()):
            spread = " ".join(f"{status}x{count}" for status, count in sorted(statuses.items()))
            lines.append(f"  {label}: {statuses.total()} cases, {spread}")
        return lines


@dataclass
class FuzzTarget:
    """The stack as the fuzzer calls it: its URL, one HTTP session, a user and a service token, real values."""

    api_url: str
    session: requests.Session
    user_token: str
    service_token: str
    slots: dict[str, list[Slot]]
    tally: Tally = field(default_factory=Tally)
    moderator_token: str = ""  # /api/moderation (issue 16)

    def headers_for(self, case: Case) -> dict[str, str]:
        """The caller each operation is for: the platform's service role on /api/internal, a user elsewhere."""
        role = case.operation.definition.raw.get("x-required-role")
        token = self.service_token if role == "service" else self.user_token
        if role == "moderator":
            token = self.moderator_token
        return {"Authorization": f"Bearer {token}"}


def fuzz_config() -> schemathesis.Config:
    """Everything the run depends on, explicit (a schemathesis.toml in the tree cannot change it)."""
    return schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "generation": {
                "mode": "all",
                "max-examples": FUZZ_EXAMPLES,
                "deterministic": True,
                "database": "none",
                # Tokens are the test's (one per role, `FuzzTarget.headers_for`); token attacks have their suites.
                "with-security-parameters": False,
            },
            "phases": {
                "examples": {"enabled": False},  # the document has no examples
                "coverage": {"enabled": True, "unexpected-methods": UNEXPECTED_METHODS},
                "fuzzing": {"enabled": True},
                "stateful": {"enabled": False},
            },
            "checks": {"negative_data_rejection": {"expected-statuses": REJECTION_STATUSES}},
            "request-timeout": REQUEST_TIMEOUT_SECONDS,
        }
    )


schema = schemathesis.openapi.from_path(ROOT / "docs" / "openapi.json", config=fuzz_config())
CURRENT: list[FuzzTarget] = []  # the module's target while its fixture is up; the hooks below read it


@schema.hook
def flatmap_case(context: HookContext, case: Case) -> st.SearchStrategy[Case]:
    """Positive cases sometimes get real values (``KnownData``) in place of generated ones."""
    return with_known_data(CURRENT[-1].slots if CURRENT else {}, case)


@schema.hook
def after_call(context: HookContext, case: Case, response: Response) -> None:
    """Every request sent is counted, with its mode and status."""
    if CURRENT:
        CURRENT[-1].tally.record(case, response)


@pytest.fixture(scope="module")
def fuzz_target(stack: RunningStack, request: pytest.FixtureRequest) -> Iterator[FuzzTarget]:
    """The stack, its tokens and real values for the module's run; prints the run's figures at the end."""
    with requests.Session() as session:
        target = FuzzTarget(
            api_url=stack.api_url,
            session=session,
            user_token=stack.token(CALLER),
            service_token=stack.token(SERVICE_CALLER, role="service"),
            slots=gather_known_data(stack).slots(),
            moderator_token=stack.token("fuzz-moderator", role="moderator"),
        )
        CURRENT.append(target)
        try:
            yield target
        finally:
            CURRENT.remove(target)
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is not None and capture is not None:
        with capture.global_and_fixture_disabled():
            reporter.write_line("")
            for line in target.tally.lines():
                reporter.write_line(line)


def test_the_stack_serves_the_fuzzed_document(stack: RunningStack) -> None:
    """What is fuzzed (docs/openapi.json, loaded at import) is what the stack serves at /api/openapi.json."""
    served = requests.get(f"{stack.api_url}/api/openapi.json", timeout=REQUEST_TIMEOUT_SECONDS)
    assert json_of(served, 200) == schema.raw_schema


def holds_its_contract(case: Case, fuzz_target: FuzzTarget) -> None:
    """No 5xx; a declared status, content type, headers and body schema; invalid input refused with a 4xx."""
    case.call_and_validate(
        base_url=fuzz_target.api_url,
        session=fuzz_target.session,
        headers=fuzz_target.headers_for(case),
        checks=CHECKS,
    )


# One test per operation: test_get_api_messages, test_post_api_messages, ... (see the module's docstring).
OPERATION_IDS = sorted(
    operation["operationId"] for methods in schema.raw_schema["paths"].values() for operation in methods.values()
)
for _operation_id in OPERATION_IDS:
    globals()[f"test_{_operation_id}"] = schema.include(operation_id=_operation_id).parametrize()(holds_its_contract)


# Findings: what fuzzing around the document turned up, kept as regression tests until the app is fixed.


def test_a_lone_surrogate_in_a_message_is_refused(stack: RunningStack) -> None:
    """JSON may escape a lone surrogate, which is no Unicode character and cannot be stored: the API must refuse
    it as invalid input, as it does in every other string field (``conversationId``, ``fileName``, ``name``)."""
    response = requests.post(
        f"{stack.api_url}/api/messages",
        data=b'{"recipientId": "alice", "content": "a\\ud800b"}',
        headers={"Authorization": f"Bearer {stack.token(BOB)}", "Content-Type": "application/json"},
        timeout=REQUEST_TIMEOUT_SECONDS,
    )
    assert response.status_code == 400, f"{response.status_code} {response.text}"
    assert response.json()["error"]["code"] in ("invalid_request", "invalid_json")
