"""Terms are locked when a chain is first attributed: an offer edited (or removed) in the program file
applies to chains attributed after a run saw the edit, never to what was earned before, and a rebuild
from the landing zone, the program file and the state gives the same ledger."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from simulator.stripe import Flow
from tests.support.sites import NOW1, Site

LATER = NOW1 + timedelta(days=6)


def amounts(site: Site, where: str) -> list[tuple]:
    lines = site.lines(f"kind = 'commission' and {where}")
    return lines.select("period", "amount_minor", "rule").sort("period", "rule").rows()


def test_an_edited_offer_pays_its_new_terms_only_on_chains_attributed_after_a_run_saw_the_edit(
    base_site: Site, copy_site: Callable[[Site], Site], tmp_path
) -> None:
    site = copy_site(base_site)
    earned = amounts(site, "affiliate_id = 'jane'")
    assert earned and all(amount == 1980 for _, amount, _ in earned)
    program = site.settings.program_path
    text = program.read_text()
    edited = text.replace(
        'percent = 20\nrecurring = "fixed_period"', 'percent = 15\nrecurring = "fixed_period"', 1
    )
    assert edited != text
    program.write_text(edited)
    site.run(NOW1 + timedelta(hours=1))  # the run that sees the edit
    clicked = site.land_click("jane-pro", NOW1 + timedelta(days=2))
    new = site.land(site.sim.subscription_checkout(NOW1 + timedelta(days=3), 9900, click_id=clicked))
    site.run(LATER)

    assert amounts(site, f"affiliate_id = 'jane' and payment_id <> '{new.invoice}'") == earned
    assert amounts(site, f"payment_id = '{new.invoice}'") == [
        ("2026-03", 1485, "15% of 9900 usd, payment 1, month 1 of 12; terms v2 from 2026-03-20")
    ]
    versions = site.query(
        "select version, effective_from, percent from program.offers"
        " where offer_id = 'pro-20' order by version"
    )
    assert [(v, p) for v, _, p in versions] == [(1, 20), (2, 15)]
    assert versions[0][1] is None and versions[1][1] == NOW1 + timedelta(hours=1)

    rebuilt = Site(tmp_path / "rebuilt")  # the landing zone, the program file and the state: nothing else
    for part in ("landing", "state"):
        shutil.copytree(site.settings.data_dir / part, rebuilt.settings.data_dir / part)
    shutil.copyfile(program, rebuilt.settings.program_path)
    rebuilt.run(LATER)
    assert rebuilt.lines().equals(site.lines())


def test_an_offer_removed_from_the_file_keeps_what_its_sales_earned(
    base_site: Site, copy_site: Callable[[Site], Site]
) -> None:
    site = copy_site(base_site)
    earned = amounts(site, "affiliate_id = 'lena'")
    assert earned
    program = site.settings.program_path
    text = program.read_text()
    start = text.index('[[offers]]\nid = "ebook-flat"')
    end = text.index("[[", start + 2)
    text = text[:start] + text[end:]  # the offer gone, and its link sells the pro plan now
    program.write_text(text.replace('offer = "ebook-flat"', 'offer = "pro-20"'))
    site.run(LATER)

    assert amounts(site, "affiliate_id = 'lena'") == earned
    assert site.query("select count(*) from marts.unattributed_payments where reason = 'unknown_offer'") == [
        (0,)
    ]


def test_a_run_pinned_to_the_same_inputs_records_the_terms_once(base_site: Site, copy_site) -> None:
    site = copy_site(base_site)
    record = site.settings.state_dir / "offer_terms.jsonl"
    before = record.read_bytes()
    site.run(LATER)
    site.run(datetime(2026, 3, 1, tzinfo=UTC))  # an earlier clock changes nothing either
    assert record.read_bytes() == before
    assert before.count(b"\n") == 3  # the demo program's three offers, once each


def test_deleting_an_offers_recorded_terms_after_a_run_makes_the_next_run_rebuild(
    base_site: Site, copy_site: Callable[[Site], Site]
) -> None:
    # Program-edit audit: the README's typo fix (delete the offer's lines from offer_terms.jsonl) done
    # after the run that saw the edit was answered "nothing new" until the next day's run.
    site = copy_site(base_site)
    program = site.settings.program_path
    program.write_text(
        program.read_text().replace(
            'percent = 20\nrecurring = "fixed_period"', 'percent = 15\nrecurring = "fixed_period"', 1
        )
    )
    assert "skipped" not in site.run(NOW1 + timedelta(hours=1))  # records pro-20's new terms
    assert site.run(NOW1 + timedelta(hours=2)) == {"skipped": True}  # its own record is no change
    record = site.settings.state_dir / "offer_terms.jsonl"
    record.write_text(
        "".join(line for line in record.read_text().splitlines(keepends=True) if '"pro-20"' not in line)
    )

    assert "skipped" not in site.run(NOW1 + timedelta(hours=3))

    versions = site.query("select version, percent from program.offers where offer_id = 'pro-20'")
    assert [(v, float(p)) for v, p in versions] == [(1, 15.0)]
    assert site.run(NOW1 + timedelta(hours=4)) == {"skipped": True}


def code_sale(site: Site, promo: Flow, at: datetime, amount_minor: int) -> Flow:
    """A one-time purchase made with the promotion code of `promo`, landed."""
    return site.land(
        site.sim.use_code(site.sim.one_time_checkout(at, amount_minor), promo.promotion_code or "")
    )


def test_a_code_moved_to_another_affiliate_keeps_its_earlier_sales_with_the_first(
    base_site: Site, copy_site: Callable[[Site], Site]
) -> None:
    site = copy_site(base_site)
    promo = site.land(site.sim.promotion_code("THEO20", NOW1 - timedelta(days=30)))
    before = code_sale(site, promo, NOW1 + timedelta(hours=2), 5000)
    site.run(NOW1 + timedelta(hours=3))
    program = site.settings.program_path
    program.write_text(
        program.read_text().replace(
            'code = "THEO20"\naffiliate = "theo"', 'code = "THEO20"\naffiliate = "jane"'
        )
    )
    site.run(NOW1 + timedelta(hours=4))  # the run that sees the move
    after = code_sale(site, promo, NOW1 + timedelta(days=1), 7000)
    site.run(LATER)

    owners = site.query(
        "select payment_id, affiliate_id from marts.conversions where attribution_method = 'promotion_code'"
    )
    assert sorted(owners) == sorted([(before.payment_intent, "theo"), (after.payment_intent, "jane")])


def test_an_edit_seen_by_a_run_pinned_to_the_same_time_still_leaves_history_alone(
    base_site: Site, copy_site: Callable[[Site], Site]
) -> None:
    site = copy_site(base_site)  # its last run was at NOW1
    earned = amounts(site, "affiliate_id = 'jane'")
    program = site.settings.program_path
    text = program.read_text()
    program.write_text(
        text.replace('percent = 20\nrecurring = "fixed_period"', 'percent = 15\nrecurring = "fixed_period"')
    )
    site.run(NOW1)  # a clock pinned (or stepped back) to the last record's time

    assert amounts(site, "affiliate_id = 'jane'") == earned
    versions = site.query(
        "select effective_from from program.offers where offer_id = 'pro-20' order by version"
    )
    assert versions == [(None,), (NOW1 + timedelta(seconds=1),)]


def test_a_code_ended_after_the_fact_earns_nothing_past_its_end_and_a_code_mapped_late_claims_its_sales(
    base_site: Site, copy_site: Callable[[Site], Site]
) -> None:
    site = copy_site(base_site)
    theo = site.land(site.sim.promotion_code("THEO20", NOW1 - timedelta(days=30)))
    late = site.land(site.sim.promotion_code("LENA5", NOW1 - timedelta(days=30)))
    sale = code_sale(site, theo, NOW1 + timedelta(hours=2), 5000)
    lena = code_sale(site, late, NOW1 + timedelta(hours=2), 4000)
    site.run(NOW1 + timedelta(hours=3))
    program = site.settings.program_path
    theo_code = 'code = "THEO20"\naffiliate = "theo"\noffer = "lifetime-10"\n'
    ended = program.read_text().replace(theo_code, theo_code + "valid_until = 2026-03-19\n")
    program.write_text(ended + '\n[[codes]]\ncode = "LENA5"\naffiliate = "lena"\noffer = "ebook-flat"\n')
    site.run(LATER)

    unattributed = site.query(
        "select payment_id, reason from marts.unattributed_payments where reason like 'code%'"
    )
    assert unattributed == [(sale.payment_intent, "code_outside_validity")]
    owners = site.query(
        "select payment_id, affiliate_id from marts.conversions where attribution_method = 'promotion_code'"
    )
    assert owners == [(lena.payment_intent, "lena")]
