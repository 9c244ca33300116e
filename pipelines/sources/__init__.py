"""dlt sources: the landing zone (NDJSON) and the program file, loaded into the build database."""
