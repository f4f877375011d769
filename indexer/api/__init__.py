"""The auditors' read-only API (FastAPI)."""
