"""Reading Stripe's API: events for `attro stripe sync`, and the dlt source of objects for `backfill`."""
