"""HTTP entry points: one blueprint per resource family, registered under ``/api`` by ``app.py``."""
