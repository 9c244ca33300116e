"""State kept outside the warehouse under $ATTRO_DATA_DIR/state/: it survives a rebuild from landing."""
