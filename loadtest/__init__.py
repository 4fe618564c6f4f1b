"""Load-test tool: speaks the wire protocol like a browser and prints a JSON summary."""
