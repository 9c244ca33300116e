"""Landing lines as templates: a StripeSim flow rendered once, then stamped out with fresh ids and times.

StripeSim builds realistic payloads at a few thousand events a second; a merchant's year of traffic
needs hundreds of thousands. So each kind of flow is rendered once (`Template`): its landing lines,
exactly as the receiver writes them, with every id the simulator minted for it, every Unix time, the
click id, the customer's email and the receive time turned into slots. A `Unit` is one copy of a
template (one payment, renewal, refund or dispute of the history): its own fresh ids, its time shift,
and its parent unit, whose ids and times it shares (a renewal names its subscription and customer, a
refund its charge). Ids and times keep their length, so a stamped line is the line the receiver would
write for the stamped event.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from random import Random

from core.landing_records import encode_record
from receiver.stripe_events import stripe_event_record
from simulator.stripe import Event, Flow, StripeSim, encode

CLICK_MARK = "CLICKMARK" * 3 + "000"  # where a template's click id goes (30 characters, like ours)
EMAIL_MARK = "emailmark@example.invalid"  # where the customer's email goes
RECEIVED_MARK = datetime(2001, 2, 3, 4, 5, 6, 789012, tzinfo=UTC)  # where the receive time goes
RECEIVED_TEXT = "2001-02-03T04:05:06.789012Z"  # ... as the landing line spells it

_ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
_ALNUM_BYTES = bytes(ord(_ALNUM[i % len(_ALNUM)]) for i in range(256))
_UNIX_TIME = re.compile(r"(?<![0-9A-Za-z])1[0-9]{9}(?![0-9A-Za-z])")  # 2001-09-09 .. 2033-05-18
_TIME_REACH = 150 * 86_400  # a time this close to a unit's base time belongs to that unit

# slot kinds
TOKEN, UPPER, TIME, CLICK, EMAIL, RECEIVED = range(6)


def fresh_alnum(rng: Random, length: int) -> str:
    """`length` random ASCII letters and digits (Stripe's id alphabet), fast."""
    return rng.randbytes(length).translate(_ALNUM_BYTES).decode("ascii")


class RecordingSim(StripeSim):
    """StripeSim that remembers every random string it mints, so a flow's ids can be found in its lines."""

    def __init__(self, seed: int, **kwargs: object) -> None:
        self.minted: list[str] | None = None  # not recording while the account's own ids are made
        super().__init__(seed=seed, **kwargs)  # type: ignore[arg-type]
        self.minted = []

    def _rand(self, n: int) -> str:
        token = super()._rand(n)
        if self.minted is not None:
            self.minted.append(token)
        return token

    def record(self, make: Callable[[], Flow]) -> tuple[Flow, list[str]]:
        """Run one flow method; the flow and the random strings minted while it ran."""
        assert self.minted is not None
        start = len(self.minted)
        flow = make()
        return flow, self.minted[start:]


@dataclass
class LineTemplate:
    """One landing line cut at its slots: `pieces[i]`, slot i, `pieces[i + 1]`, ..."""

    event_type: str
    created: int  # the event's `created` as rendered; a copy's is this + its unit's delta
    pieces: list[str]
    slots: list[tuple[int, int, int, int]]  # (kind, depth in the unit chain, a, b)

    def render(self, chain: tuple[Unit, ...], received: str) -> str:
        """The line of one copy; `chain` is the unit, its parent, its grandparent."""
        pieces = self.pieces
        out = [pieces[0]]
        for index, (kind, depth, a, b) in enumerate(self.slots, start=1):
            unit = chain[depth]
            if kind == TOKEN:
                out.append(unit.rand[a:b])
            elif kind == TIME:
                out.append(str(a + unit.delta))
            elif kind == RECEIVED:
                out.append(received)
            elif kind == CLICK:
                out.append(unit.click_id or "")
            elif kind == EMAIL:
                out.append(unit.email or "")
            else:
                out.append(unit.rand[a:b].upper())
            out.append(pieces[index])
        return "".join(out)


@dataclass
class Template:
    """The landing lines of one simulated flow, with slots; `parent` is the flow it follows from."""

    kind: str
    base: int  # the Unix time the flow was rendered at
    minted: list[str]  # ids minted by this flow, in order; a copy's fresh ids are as long
    lines: list[LineTemplate] = field(default_factory=list)
    parent: Template | None = None

    @property
    def rand_len(self) -> int:
        return sum(len(token) for token in self.minted)

    def chain(self) -> list[Template]:
        out: list[Template] = [self]
        while out[-1].parent is not None:
            out.append(out[-1].parent)  # type: ignore[arg-type]
        return out


class Unit:
    """One copy of a template: fresh ids (`rand`, sliced per id), a time shift, the parent it belongs to."""

    __slots__ = ("click_id", "delta", "email", "parent", "rand", "template")

    def __init__(
        self,
        template: Template,
        rand: str,
        at: int,
        parent: Unit | None = None,
        click_id: str | None = None,
        email: str | None = None,
    ) -> None:
        self.template, self.rand, self.delta, self.parent = template, rand, at - template.base, parent
        self.click_id = click_id if parent is None else parent.click_id
        self.email = email if parent is None else parent.email

    @property
    def at(self) -> int:
        return self.template.base + self.delta

    def chain(self) -> tuple[Unit, ...]:
        units = [self]
        while units[-1].parent is not None:
            units.append(units[-1].parent)  # type: ignore[arg-type]
        return tuple(units)

    def line(self, index: int, received: str) -> str:
        return self.template.lines[index].render(self.chain(), received)


def landing_line(event: Event, received_at: datetime = RECEIVED_MARK) -> str:
    """The stripe_events line the receiver writes for `event` (its body as StripeSim encodes it)."""
    return encode_record(stripe_event_record(event, encode(event).decode("utf-8"), received_at)).decode()


def _token_slots(template: Template, text: str) -> dict[str, tuple[int, int, int, int]]:
    """Every id minted by the template or an ancestor → its slot (exact, or upper-cased as in invoice
    numbers)."""
    slots: dict[str, tuple[int, int, int, int]] = {}
    for depth, owner in enumerate(template.chain()):
        offset = 0
        for token in owner.minted:
            end = offset + len(token)
            if token in text:
                slots.setdefault(token, (TOKEN, depth, offset, end))
            elif token.upper() != token and token.upper() in text:
                slots.setdefault(token.upper(), (UPPER, depth, offset, end))
            offset = end
    return slots


def _time_slot(template: Template, value: int, inherit_times: bool) -> tuple[int, int, int, int] | None:
    """A Unix time's slot: shifted with the unit (or, for money back, with the payment it names)."""
    owners = template.chain()[: 2 if inherit_times else 1]
    depth = min(range(len(owners)), key=lambda d: abs(value - owners[d].base))
    if abs(value - owners[depth].base) > _TIME_REACH:
        return None  # no time of this flow: keep it as it is
    return (TIME, depth, value, 0)


def _occurrences(text: str, found: dict[str, tuple[int, int, int, int]]) -> list[tuple[int, str]]:
    """(position, string) of every occurrence of the strings in `found` (str.find: cheaper than a regex
    of a few dozen alternatives compiled per template)."""
    out = []
    for needle in found:
        at = text.find(needle)
        while at >= 0:
            out.append((at, needle))
            at = text.find(needle, at + len(needle))
    return out


def compile_line(
    template: Template, event_type: str, created: int, text: str, *, inherit_times: bool = False
) -> LineTemplate:
    """Cut a rendered landing line at its ids, times, click id, email and receive time."""
    literal = _token_slots(template, text)
    literal |= {
        CLICK_MARK: (CLICK, 0, 0, 0),
        EMAIL_MARK: (EMAIL, 0, 0, 0),
        RECEIVED_TEXT: (RECEIVED, 0, 0, 0),
    }
    spans = [(at, at + len(s), literal[s]) for at, s in _occurrences(text, literal)]
    for match in _UNIX_TIME.finditer(text):
        slot = _time_slot(template, int(match.group(0)), inherit_times)
        if slot is not None:
            spans.append((match.start(), match.end(), slot))
    pieces: list[str] = []
    slots: list[tuple[int, int, int, int]] = []
    last = 0
    for start, end, slot in sorted(spans):
        if start < last:
            continue  # inside an id already cut out
        pieces.append(text[last:start])
        slots.append(slot)
        last = end
    pieces.append(text[last:])
    return LineTemplate(event_type, created, pieces, slots)


def make_template(
    sim: RecordingSim,
    kind: str,
    at: datetime,
    run: Callable[[], Flow],
    parent: Template | None = None,
    *,
    inherit_times: bool = False,
) -> tuple[Template, Flow]:
    """Run one flow of `sim` at `at` and turn its events' landing lines into a template."""
    flow, minted = sim.record(run)
    template = Template(kind=kind, base=int(at.timestamp()), minted=minted, parent=parent)
    for event in flow.events:
        text = landing_line(event)
        line = compile_line(template, event["type"], event["created"], text, inherit_times=inherit_times)
        template.lines.append(line)
    return template, flow
