"""The review decisions store: appended durably; a line that is no decision is skipped, not applied."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from core.state.review_decisions import decisions_path, load_decisions, record_decision, recorded_decisions
from tests.support.sites import new_settings

AT = datetime(2026, 3, 5, 9, 0, tzinfo=UTC)


def test_a_hand_edited_line_that_is_no_decision_is_skipped(tmp_path: Path) -> None:
    # Audit: `"decision": "maybe"` went through to marts.risk_flags.decision as it was.
    settings = new_settings(tmp_path)
    record_decision(settings, "rf_00000000000000aa", "rejected", "coupon site", now=AT)
    stamp = AT.isoformat()
    edits = [
        {"flag_id": "rf_00000000000000bb", "decision": "maybe", "decided_at": stamp},
        {"flag_id": "not-a-flag", "decision": "approved", "decided_at": stamp},
        {"flag_id": ["rf_00000000000000cc"], "decision": "approved", "decided_at": stamp},
    ]
    with decisions_path(settings).open("a", encoding="utf-8") as fh:
        fh.writelines(json.dumps(edit) + "\n" for edit in edits)
        fh.write('{"flag_id": "rf_00000000000000dd", "decis')  # and a torn last line

    decisions = load_decisions(settings)

    assert decisions.select("flag_id", "decision").rows() == [("rf_00000000000000aa", "rejected")]
    assert list(recorded_decisions(settings)) == ["rf_00000000000000aa"]
