"""The package version: one place, read by pyproject.toml and written into every report's provenance."""

__version__ = "0.1.0"
