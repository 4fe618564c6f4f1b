"""``venuekit dev --demo``: a demo organisation and hackathon, seeded through the public API.

A stage with two agenda sessions, two rooms, two hackathon teams (each with its team room), an
organiser who signs in, free tickets on sale on the event page, and three attendees whose links
carry their ticket code (a ticket code can be exchanged for a fresh join token at any time, so
the links keep working).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from loadtest.provision import provision

ORGANISER = "Olivia"
ATTENDEES = ("Ada", "Grace", "Linus")
TEAMS = {"Rocket": [0, 1], "Comet": [2]}
FREE_TICKETS = 20
"""left on sale, so a newcomer can also get a free ticket on the event page"""
AGENDA = [
    {
        "title": "Opening keynote",
        "space": "Main stage",
        "starts_at": "2030-05-01T09:30:00+02:00",
        "ends_at": "2030-05-01T10:30:00+02:00",
    },
    {
        "title": "Demo hour",
        "space": "Main stage",
        "starts_at": "2030-05-03T16:00:00+02:00",
        "ends_at": "2030-05-03T17:00:00+02:00",
    },
]
SPACES = [
    {"name": "Main stage", "kind": "stage", "capacity": 200},
    {"name": "Networking", "kind": "room", "capacity": 30},
    {"name": "Workshop", "kind": "room", "capacity": 30},
]


@dataclass(frozen=True, slots=True)
class DemoLinks:
    organiser_url: str
    organiser_email: str
    organiser_password: str
    attendees: tuple[tuple[str, str, str], ...]
    """(name, team, url)"""
    console_url: str = ""
    """the organiser console: plan the event, see orders, run it live"""
    event_page_url: str = ""
    """the public event page: agenda, redeem a ticket code, get a free ticket"""

    def lines(self) -> list[str]:
        out = [
            "Demo hackathon ready. Try it with a few browser windows:",
            f"  organiser {ORGANISER}: {self.organiser_url}",
            f"    sign in as {self.organiser_email} / {self.organiser_password}",
            f"  organiser console (same sign-in): {self.console_url}",
        ]
        out += [f"  attendee {name} (team {team}): {url}" for name, team, url in self.attendees]
        if self.event_page_url:
            out.append(f"  event page (redeem a ticket code, or get a free ticket): {self.event_page_url}")
        return out


async def seed_demo(api_url: str, *, public_url: str) -> DemoLinks:
    """Seed through the API at ``api_url``; the links point at ``public_url``."""
    base_url = public_url.rstrip("/")
    venue = await provision(
        api_url,
        [ORGANISER],
        SPACES,
        org_name="VenueKit Demo",
        attendees=len(ATTENDEES),
        teams=TEAMS,
        on_sale=FREE_TICKETS,
        agenda=AGENDA,
    )
    where = {"org": venue.org_id, "event": venue.event_id}
    team_of = {i: team for team, members in TEAMS.items() for i in members}
    attendees = tuple(
        (name, team_of[i], f"{base_url}/#" + urlencode({**where, "ticket": code, "name": name}))
        for i, (name, code) in enumerate(zip(ATTENDEES, venue.ticket_codes, strict=True))
    )
    return DemoLinks(
        organiser_url=f"{base_url}/#" + urlencode(where),
        organiser_email=venue.owner_email,
        organiser_password=venue.password,
        attendees=attendees,
        console_url=f"{base_url}/#console&"
        + urlencode({"org": venue.org_id, "event": venue.event_id, "tab": "live"}),
        event_page_url=f"{base_url}/#/e/{venue.org_id}/{venue.event_id}",
    )
