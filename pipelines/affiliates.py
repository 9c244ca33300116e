"""Who an affiliate is on finance's files (id, name, email): as frozen with a closed month, else as the
program file says now."""

from __future__ import annotations

from collections.abc import Iterable

import polars as pl

from core.contracts import AFFILIATE_CONTACT
from core.program import Program, load_program
from core.settings import Settings
from core.state.closed_periods import frozen_affiliates


def affiliate_directory(program: Program, affiliate_ids: Iterable[str] | None = None) -> pl.DataFrame:
    """AFFILIATE_CONTACT rows, by id, for `affiliate_ids` (every affiliate of the program when None).
    An id the program file no longer names keeps its row, with no name or email: a frozen month names
    every affiliate it pays."""
    known = {a.id: a for a in program.affiliates}
    ids = sorted(known if affiliate_ids is None else set(affiliate_ids))
    rows = [
        {
            "affiliate_id": i,
            "name": known[i].name if i in known else None,
            "email": known[i].email if i in known else None,
        }
        for i in ids
    ]
    return pl.DataFrame(rows, schema=AFFILIATE_CONTACT) if rows else pl.DataFrame(schema=AFFILIATE_CONTACT)


def period_affiliates(settings: Settings, period: str, closed: bool) -> pl.DataFrame:
    """The directory a period's export names affiliates with: frozen with a closed month, so its
    export never changes; the program file's for an open month (or one closed before names were
    frozen). Raises ProgramError when the program file is needed and invalid."""
    frozen = frozen_affiliates(settings, period) if closed else None
    if frozen is not None:
        return frozen
    return affiliate_directory(load_program(settings.program_path))
