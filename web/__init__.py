"""The browser client: static assets shipped inside the Python package."""

from pathlib import Path

STATIC_DIR = Path(__file__).parent / "static"
