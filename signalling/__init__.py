"""Socket.IO signalling and the live venue runtime (spaces, stages, breakouts, presence)."""
