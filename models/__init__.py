"""Business rules as pure Polars functions: events → payments → attribution → commissions → statements."""
