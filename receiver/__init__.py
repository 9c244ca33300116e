"""The FastAPI receiver: verifies Stripe webhooks, records tracking-link clicks, lands both as NDJSON."""  # noqa: E501
