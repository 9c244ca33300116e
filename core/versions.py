"""Versions of what the pipeline keeps on disk (standard library only: read before anything heavy loads)."""

from __future__ import annotations

# Bump when the staged fields or the consumed event types change (core/contracts.py): staging is
# then rebuilt from raw into a new folder on the next run.
# 2: customers, subscriptions, promotion codes, discounts; 3: charge capture; 4: the payload's id;
# 5: an invoice's total; 6: refund.failed, the copy's received_at
STAGING_VERSION = 6
