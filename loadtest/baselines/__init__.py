"""Servers built without VenueKit, for benchmarks to compare against."""
