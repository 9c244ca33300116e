"""No landed line stops a run: hostile Stripe events mixed into an ordinary story, property-tested.

Landed lines may come from older receivers, other writers or bugs, so these bypass the receiver's
door checks and are written straight into the landing zone. Every generated case must end with
`attro run` exiting 0 and the ordinary story's marts exactly as they are without the hostile lines,
and every hostile line must be accounted for: in raw, or quarantined in raw.landing_rejects; if it
is an event the rules read, staged or quarantined in staging.rejected_events.

`make test` runs a few cases; ATTRO_FUZZ_EXAMPLES=200 runs a longer profile.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from attro.cli import main
from core.landing_records import encode_record, stripe_event_record
from core.stripe_fields import CONSUMED_EVENT_TYPES, STRIPE_OBJECT_FIELDS
from pipelines.staging.stage import stage_frame
from simulator.stripe import BASIL, LEGACY, StripeSim
from tests.support.sites import new_settings

EXAMPLES = int(os.environ.get("ATTRO_FUZZ_EXAMPLES", "4"))
AT = datetime(2026, 3, 2, 14, 30, tzinfo=UTC)
SURROGATE = "\ud800"  # json.dumps writes it as the escape \ud800, which no strict parser accepts

HOSTILE_VALUES = st.one_of(
    st.just(SURROGATE),
    st.just("nul\x00in a string"),
    st.just(10**30),
    st.just(-(10**15)),
    st.just(-99_999_999_999),
    st.just(45.5),
    st.just("4500"),
    st.just(True),
    st.just([1, 2]),
    st.just({"a": 1}),
    st.just(None),
    st.just(""),
    st.text(max_size=20),
    st.integers(),
)
FIELD_PATHS = sorted({path.replace("[*]", "[0]") for path, _kind in STRIPE_OBJECT_FIELDS.values()})
DEEP = "[" * 3000 + "]" * 3000


def _set(obj: dict[str, Any], path: str, value: Any) -> None:
    """Set a dotted path (`a.b`, `a[0].b`) under `obj`, making containers on the way."""
    steps = path.replace("[0]", ".0").split(".")
    node: Any = obj
    for step, following in zip(steps, [*steps[1:], None], strict=True):
        key: Any = int(step) if step.isdigit() else step
        if following is None:
            if isinstance(node, list):
                node[:] = [value]
            elif isinstance(node, dict):
                node[key] = value
            return
        child: Any = [] if following.isdigit() else {}
        if isinstance(node, list):
            if not node or not isinstance(node[0], type(child)):
                node[:] = [child]
            node = node[0]
        elif isinstance(node, dict):
            if not isinstance(node.get(key), type(child)):
                node[key] = child
            node = node[key]
        else:
            return


@st.composite
def hostile_lines(draw: st.DrawFn, templates: list[dict[str, Any]]) -> list[bytes]:
    """Landing lines of Stripe-shaped events with hostile values, ids of their own (never an ordinary
    payment's), and some lines that are no landing record at all."""
    lines: list[bytes] = []
    for number in range(draw(st.integers(min_value=1, max_value=12))):
        event = copy.deepcopy(draw(st.sampled_from(templates)))
        tag = f"poison{number}x{draw(st.integers(0, 10**6))}"
        event["id"] = f"evt_{tag}"
        obj = event["data"]["object"]
        for field in ("id", "invoice", "payment_intent", "charge", "customer", "subscription"):
            if isinstance(obj.get(field), str):
                obj[field] = f"{obj[field].split('_')[0]}_{tag}"
        event["type"] = draw(st.sampled_from([event["type"], *CONSUMED_EVENT_TYPES, "unknown.event_type"]))
        for path in draw(st.lists(st.sampled_from(FIELD_PATHS), max_size=3)):
            _set(obj, path, draw(HOSTILE_VALUES))
        if draw(st.booleans()):
            event["created"] = draw(st.sampled_from([-99_999_999_999, 10**15, 1_790_000_000]))
        if draw(st.integers(0, 9)) == 0:
            event["data"]["object"] = draw(st.sampled_from(["not an object", [1], None]))
        payload = json.dumps(event)
        trick = draw(st.sampled_from(["none", "none", "deep", "duplicate_key", "truncated"]))
        if trick == "deep":
            payload = payload.replace('"data": {', f'"deep": {DEEP}, "data": {{', 1)
        elif trick == "duplicate_key":
            payload = payload.replace('"data": {"object": {', '"data": {"object": {"amount": 1, ', 1)
        elif trick == "truncated":
            payload = payload[: len(payload) // 2]
        received = AT + timedelta(minutes=number)
        try:
            lines.append(encode_record(stripe_event_record(event, payload, received)))
        except (KeyError, TypeError):
            lines.append(json.dumps({"event_id": event["id"], "payload": payload}).encode() + b"\n")
    junk = draw(
        st.lists(st.sampled_from([b"not json\n", b"[1]\n", b'{"event_id": "x"}\n', DEEP.encode() + b"\n"]))
    )
    return lines + junk


def _templates() -> list[dict[str, Any]]:
    sim = StripeSim(seed=3, livemode=True)
    flows = [
        sim.subscription_checkout(AT, 9900, api_version=LEGACY),
        sim.subscription_checkout(AT, 4900, api_version=BASIL),
        sim.one_time_checkout(AT, 2500),
    ]
    flows.append(sim.refund(flows[2], AT + timedelta(days=1)))
    flows.append(sim.dispute(flows[0], AT + timedelta(days=2), outcome="won"))
    return [event for flow in flows for event in flow.events]


TEMPLATES = _templates()
ORDERED = {
    "payments": ["payment_id"],
    "payment_adjustments": ["adjustment_id"],
    "conversions": ["conversion_id"],
    "commission_lines": ["line_id"],
    "affiliate_statements": ["period", "affiliate_id", "currency"],
}


def _marts(warehouse: Path, ordinary_events: set[str]) -> dict[str, pl.DataFrame]:
    """The marts, restricted to rows the ordinary story's events made."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        frames = {name: con.sql(f"select * from marts.{name}").pl() for name in ORDERED}
    finally:
        con.close()
    ids = sorted(ordinary_events)
    frames["payments"] = frames["payments"].filter(
        pl.col("source_event_ids").list.eval(pl.element().is_in(ids)).list.all()
    )
    frames["payment_adjustments"] = frames["payment_adjustments"].filter(pl.col("source_event_id").is_in(ids))
    return {name: frame.sort(ORDERED[name]) for name, frame in frames.items()}


def _attro_run(data_dir: Path, program: Path, monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setenv("ATTRO_DATA_DIR", str(data_dir))
    monkeypatch.setenv("ATTRO_PROGRAM", str(program))
    return main(["run", "--force"])


@pytest.fixture(scope="module")
def ordinary(scenario, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The pipeline tests' scenario landed and run alone: its marts are what every case must keep."""
    settings = new_settings(tmp_path_factory.mktemp("ordinary"))
    scenario.write(settings)
    with pytest.MonkeyPatch.context() as monkeypatch:
        assert _attro_run(settings.data_dir, settings.program_path, monkeypatch) == 0
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        events = {row[0] for row in con.sql("select event_id from raw.stripe_events").fetchall()}
    finally:
        con.close()
    return {"settings": settings, "events": events, "marts": _marts(settings.warehouse_path, events)}


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],  # no shrinking: each case is a whole run
    derandomize=EXAMPLES <= 10,  # the same few cases in every `make test`
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
@given(lines=hostile_lines(TEMPLATES))
def test_hostile_landed_events_never_stop_a_run_or_change_the_ordinary_marts(
    lines: list[bytes], ordinary: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> None:
    root = tmp_path_factory.mktemp("poisoned")
    source = ordinary["settings"]
    shutil.copytree(source.landing_dir, root / "data" / "landing")
    poison = root / "data" / "landing" / "stripe_events" / "date=2026-03-02" / "host-9-0000dead.ndjson"
    poison.write_bytes(b"".join(lines))

    with pytest.MonkeyPatch.context() as monkeypatch:
        exit_code = _attro_run(root / "data", source.program_path, monkeypatch)

    assert exit_code == 0
    warehouse = root / "data" / "warehouse.duckdb"
    for name, expected in ordinary["marts"].items():
        assert_frame_equal(_marts(warehouse, ordinary["events"])[name], expected, check_row_order=True)
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        (raw,) = con.execute(
            "select count(*) from raw.stripe_events where event_id like 'evt_poison%'"
        ).fetchall()[0]
        (quarantined,) = con.execute(
            "select count(*) from raw.landing_rejects where landing_file like '%dead%'"
        ).fetchall()[0]
    finally:
        con.close()
    assert raw + quarantined == len(lines)  # every hostile line is in raw or quarantined, none lost


@settings(max_examples=max(50, EXAMPLES * 10), deadline=None, derandomize=EXAMPLES <= 10)
@given(lines=hostile_lines(TEMPLATES))
def test_staging_stages_or_quarantines_every_hostile_event_and_never_raises(lines: list[bytes]) -> None:
    records = []
    for line in lines:
        try:
            record = json.loads(line)
        except (ValueError, RecursionError):
            continue
        if isinstance(record, dict) and "created" in record and -(2**40) < record["created"] < 2**40:
            records.append(record)
    frame = pl.DataFrame(
        {
            "event_id": [r["event_id"] for r in records],
            "event_type": [r["event_type"] for r in records],
            "livemode": [r["livemode"] for r in records],
            "created_at": [AT for _ in records],
            "received_at": [AT for _ in records],
            "payload": [r["payload"] for r in records],
        },
        schema={"event_id": pl.String, "event_type": pl.String, "livemode": pl.Boolean,
                "created_at": pl.Datetime("us", "UTC"), "received_at": pl.Datetime("us", "UTC"),
                "payload": pl.String},
    )  # fmt: skip

    objects, rejected = stage_frame(frame)

    consumed = {r["event_id"] for r in records if r["event_type"] in CONSUMED_EVENT_TYPES}
    assert set(objects["event_id"]) | set(rejected["event_id"]) == consumed
    assert set(objects["event_id"]).isdisjoint(rejected["event_id"])
    assert rejected["reason"].null_count() == 0


@pytest.mark.parametrize("table", ["raw/clicks", "raw/stripe_events", "staging"])
def test_a_damaged_lake_file_is_one_line_naming_it_and_the_rebuild_that_mends_it(
    table: str, ordinary: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Audit (chaos): a truncated lake file stopped every run with pyarrow's words and no file; deleting
    # the file DuckDB did name left raw.stripe_events without most of its history for good.
    source = ordinary["settings"]
    data = tmp_path / "data"
    shutil.copytree(source.data_dir, data)
    lake = data / "lake" / ("staging" if table == "staging" else table)
    damaged = max(lake.rglob("*.parquet"), key=lambda p: p.stat().st_size)
    damaged.write_bytes(damaged.read_bytes()[: damaged.stat().st_size // 2])

    with pytest.MonkeyPatch.context() as monkeypatch:
        assert _attro_run(data, source.program_path, monkeypatch) == 1
    err, *rest = capsys.readouterr().err.strip().splitlines()
    assert rest == ["(run with --verbose for the traceback)"]
    assert (
        str(damaged) in err and "delete $ATTRO_DATA_DIR/lake, $ATTRO_DATA_DIR/build and the warehouse" in err
    )

    for gone in ("lake", "build"):
        shutil.rmtree(data / gone, ignore_errors=True)
    (data / "warehouse.duckdb").unlink()
    with pytest.MonkeyPatch.context() as monkeypatch:
        assert _attro_run(data, source.program_path, monkeypatch) == 0
    for name, expected in ordinary["marts"].items():
        assert_frame_equal(
            _marts(data / "warehouse.duckdb", ordinary["events"])[name], expected, check_row_order=True
        )
