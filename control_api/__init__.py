"""REST control API: organisations, events, venues, teams, tickets and join tokens."""
