"""Has anything a run reads changed since the last published run? Standard library only, so the answer
costs milliseconds (`attro run` asks before it loads the pipeline's libraries).

A run reads the landing zone, the program file, the state kept outside the warehouse (closed
periods, review decisions) and today's date (holding periods turn lines approved by the day); its
fingerprint is those, plus the code (its sources' hash: a release that changes a rule rebuilds).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from datetime import UTC, datetime
from pathlib import Path

from core.settings import Settings
from core.versions import STAGING_VERSION


def _tree(root: Path) -> list[tuple[str, int, int, int]]:
    """(relative path, size, mtime and ctime in ns) of every file under root, sorted.

    The ctime too: a file rewritten to the same size with its mtime put back (`cp -p`, `rsync -t`, a
    restored backup) still changes it, and no program can set it back. Walked with os.scandir and
    plain strings, no Path per file: at 300k events' landing (2.3k files) 0.02-0.03 s instead of 0.07-0.12 s,
    paid by `attro run` with nothing new and by every sensor tick.
    """
    entries: list[tuple[str, int, int, int]] = []
    pending = [(str(root), "")]
    while pending:
        folder, prefix = pending.pop()
        try:
            with os.scandir(folder) as listing:
                found = list(listing)
        except OSError:
            continue  # no such folder (yet), removed while we looked, or unreadable: as os.walk
        for entry in found:
            relative = prefix + entry.name
            try:
                if entry.is_dir():  # a link to a folder is not followed (as os.walk)
                    if not entry.is_symlink():
                        pending.append((entry.path, relative + os.sep))
                    continue
                st = entry.stat()
            except FileNotFoundError:
                continue  # removed while we looked
            entries.append((relative, st.st_size, st.st_mtime_ns, st.st_ctime_ns))
    return sorted(entries)


def landing_signature(settings: Settings) -> str:
    """Changes whenever a landing file appears, grows, shrinks or is rewritten (name, size, mtime,
    ctime), even to the same size with the same mtime; empty while nothing has landed."""
    files = _tree(settings.landing_dir)
    return hashlib.sha256(json.dumps(files).encode()).hexdigest() if files else ""


# Files under state/ that no run reads: attro web's signing key (web/keys.py), which appears when it
# first starts, and the sessions signed out (web/signed_out.py); neither may make the next run rebuild.
NOT_READ_BY_RUNS = frozenset({"web_signing.key", "web_signed_out.json", "web_signed_out.json.lock"})
# ... nor, in the fingerprint taken before a run, the offer terms and code owners a run records itself
# (core/state/offer_terms.py): they follow from the program file and the time the run saw it. The
# run records them as it left them (`written_signature`), so a hand edit (deleting an offer's lines
# to correct a typo for all of history, as the README says) still makes the next run rebuild.
WRITTEN_BY_RUNS = frozenset({"offer_terms.jsonl", "code_owners.jsonl"})


def _inputs(settings: Settings) -> dict:
    """What a run reads that people and the receiver change: the landing zone, the program file, and
    the state a run reads (closed months, review decisions)."""
    try:
        program: str | None = hashlib.sha256(settings.program_path.read_bytes()).hexdigest()
    except FileNotFoundError:
        program = None
    except OSError as exc:  # a folder in its place: the run's own read of it says so, in one line
        program = f"unreadable: {exc.strerror}"
    return {
        "landing": landing_signature(settings),
        "program": program,
        "state": [
            entry for entry in _tree(settings.state_dir) if entry[0] not in NOT_READ_BY_RUNS | WRITTEN_BY_RUNS
        ],
    }


# The code whose rules make the marts: an upgrade that changes them must not be answered "nothing new".
_CODE_PACKAGES = ("core", "models", "pipelines")


@functools.cache
def code_signature() -> str:
    """This release's `source_signature`, once per process: a release that corrects a rule rebuilds on
    its first run (upgrade audit: the first `attro run` after an upgrade said "nothing new" the same
    day, and kept the old amounts)."""
    return source_signature(Path(__file__).resolve().parents[1])


def source_signature(root: Path) -> str:
    """A hash of the staging version and the Python sources of the packages under `root` that shape
    the marts (about 80 files: a few ms; editor lock files skipped)."""
    digest = hashlib.sha256(STAGING_VERSION.to_bytes(4, "big"))
    for package in _CODE_PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            if path.name.startswith(".") or not path.is_file():
                continue  # an editor's lock file (Emacs leaves a dangling `.#name.py` link), not code
            digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def fingerprint(settings: Settings, now: datetime) -> str:
    parts = {**_inputs(settings), "day": now.date().isoformat(), "code": code_signature()}
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def inputs_signature(settings: Settings) -> str:
    """Changes when landing files, the program file, the state a run reads or the code change (what
    the sensor watches); empty while nothing has landed. Not the state runs write themselves: see
    `hand_edit` (in this signature, the run a hand edit asked for, putting the record back in step
    with the file, looked like one more change: review)."""
    parts = {**_inputs(settings), "code": code_signature()}
    if not parts["landing"]:
        return ""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def _record_path(settings: Settings) -> Path:
    return settings.build_dir / "last_run.json"


def hand_edit(settings: Settings) -> str:
    """The state runs write themselves (offer terms, code owners) when it is not as the last published
    run recorded it — a hand edit, or a run that recorded new terms and failed — else ""."""
    written = written_signature(settings)
    return "" if written == _recorded(settings).get("written") else written


def written_signature(settings: Settings) -> str:
    """The state files runs write themselves, as they are now (name, size, mtime and ctime)."""
    written = [entry for entry in _tree(settings.state_dir) if entry[0] in WRITTEN_BY_RUNS]
    return hashlib.sha256(json.dumps(written).encode()).hexdigest()


def _recorded(settings: Settings) -> dict:
    """What the last published run recorded (empty before the first)."""
    try:
        last = json.loads(_record_path(settings).read_text())
    except (OSError, ValueError):
        return {}
    return last if isinstance(last, dict) else {}


def unchanged(settings: Settings, current: str) -> bool:
    """True when the published warehouse was built from exactly these inputs, and the state runs
    write is as the run that published it left it."""
    last = _recorded(settings)
    return (
        last.get("fingerprint") == current
        and last.get("written") == written_signature(settings)
        and settings.warehouse_path.exists()
    )


def record(
    settings: Settings,
    current: str,
    finished_at: datetime | None = None,
    landing_read_from: datetime | None = None,
    written: str | None = None,
) -> None:
    """Remember what the published warehouse was built from (after it is in place), and when: the
    admin's health page shows the last successful run's age from it, and the landing lag from when
    the run began reading the landing zone (lines landed after may be in the warehouse or not).
    `written`: the state files runs write, as the run last read them (else as they are now)."""
    path = _record_path(settings)
    tmp = path.with_name(path.name + ".tmp")
    finished = (finished_at or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    entry = {
        "fingerprint": current,
        "written": written or written_signature(settings),  # as the run last read them (steps.py)
        "finished_at": finished.isoformat(),
    }
    if landing_read_from is not None:
        entry["landing_read_from"] = landing_read_from.astimezone(UTC).isoformat()
    tmp.write_text(json.dumps(entry))
    os.replace(tmp, path)


def landing_read_from(settings: Settings) -> datetime | None:
    """When the last published run began reading the landing zone (None before a run noted it)."""
    return _recorded_time(settings, "landing_read_from")


def last_run(settings: Settings) -> datetime | None:
    """When the last successful run published the warehouse (None before the first one, or for a
    record written before runs noted their time)."""
    return _recorded_time(settings, "finished_at")


def _recorded_time(settings: Settings, name: str) -> datetime | None:
    """A time the last published run recorded (None when it recorded none, or none readable)."""
    value = _recorded(settings).get(name)
    try:
        return datetime.fromisoformat(value) if value else None
    except (ValueError, TypeError):
        return None
