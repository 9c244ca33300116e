"""The web's routes: /admin (the merchant) and /portal (each affiliate)."""
