"""Event, space, team and direct chats persisted in Redis streams, with gapless replay."""
