"""The REST API (FastAPI): see api/main.py."""
