"""VenueKit composition root: the CLI, settings, and the wiring of every role."""

__version__ = "0.1.0"
