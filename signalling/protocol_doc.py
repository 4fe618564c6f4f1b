"""Render the client-to-server event table of docs/protocol.md from the payload schemas.

``python -m signalling.protocol_doc`` rewrites the generated section of docs/protocol.md in
place; a test fails when the document and the schemas disagree.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Final

from signalling.protocol import describe_events

BEGIN: Final = "<!-- BEGIN GENERATED: client events -->"
END: Final = "<!-- END GENERATED: client events -->"


def render_client_events() -> str:
    lines = ["| event | who | fields | what it does |", "| --- | --- | --- | --- |"]
    for event in describe_events():
        fields = "<br>".join(
            f"`{f.name}`{'' if f.required else ' (optional)'}: {f.description}" for f in event.fields
        )
        who = "organiser" if event.organiser_only else "anyone admitted"
        summary = " ".join(event.summary.split())
        lines.append(f"| `{event.name}` | {who} | {fields or '—'} | {summary} |")
    return "\n".join(lines)


def rewrite(doc: Path) -> bool:
    """Replace the generated section of ``doc``; True when it changed."""
    text = doc.read_text()
    head, rest = text.split(BEGIN, 1)
    _old, tail = rest.split(END, 1)
    updated = f"{head}{BEGIN}\n{render_client_events()}\n{END}{tail}"
    if updated != text:
        doc.write_text(updated)
        return True
    return False


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/protocol.md")
    print("updated" if rewrite(target) else "up to date")
