"""The merchant's admin (/admin) and the affiliates' portal (/portal): pages over the published warehouse."""
