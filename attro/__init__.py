"""Application layer: the `attro` command line and what it runs (demo, finance exports, closing periods)."""
