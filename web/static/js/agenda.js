// The agenda (sessions on stages) and event times, shown in the viewer's own time zone. Used by
// the event page and the lobby; every title and name is set as text.

import { el } from "./dom.js";

const DAY_AND_TIME = new Intl.DateTimeFormat(undefined, { weekday: "short", day: "numeric", month: "short",
  hour: "2-digit", minute: "2-digit", timeZoneName: "short" });
const TIME = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });

function sameDay(a, b) {
  return a.toDateString() === b.toDateString();
}

/** "Fri 1 May, 09:00 – 10:00 CEST" (the end with its date when it is on another day). */
export function formatRange(startIso, endIso) {
  const start = new Date(startIso);
  const end = new Date(endIso);
  const until = sameDay(start, end) ? TIME.format(end) : DAY_AND_TIME.format(end);
  return `${DAY_AND_TIME.format(start)} – ${until}`;
}

export function isNow(item, nowMs) {
  return Date.parse(item.starts_at) <= nowMs && nowMs < Date.parse(item.ends_at);
}

/** Fill ``list`` (an <ol>) with the agenda; the session happening now is marked. */
export function renderAgenda(list, items, nowMs = Date.now()) {
  if (!items.length) {
    list.replaceChildren(el("li", { class: "agenda-empty" }, "No sessions announced yet."));
    return;
  }
  list.replaceChildren(
    ...items.map((item) => {
      const now = isNow(item, nowMs);
      return el("li", { class: now ? "agenda-item agenda-now" : "agenda-item", "aria-current": now ? "true" : null,
        "data-agenda": item.id },
        el("span", { class: "agenda-time" }, formatRange(item.starts_at, item.ends_at)),
        el("span", { class: "agenda-title" }, item.title),
        el("span", { class: "agenda-stage" }, item.space_name ? `on ${item.space_name}` : ""),
        now ? el("strong", { class: "agenda-badge" }, "Now") : "");
    }),
  );
}
