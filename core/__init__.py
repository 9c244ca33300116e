"""Base layer: settings, the program file, contracts, click ids, durable writes and the secret store."""
