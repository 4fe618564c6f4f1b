"""Session recording: a client of a room that writes what it receives to disk."""
