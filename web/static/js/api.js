// The control API calls the browser needs to get a join token: by ticket code, or as a signed-in
// organiser (session cookie + CSRF header); and the public event page with its agenda, and free
// orders (a free ticket, or one given by an invite code).

import { VenueError } from "./session.js";

async function call(method, path, { body, headers = {} } = {}) {
  const response = await fetch(`/api/v1${path}`, {
    method,
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new VenueError({ code: data.code ?? "http_" + response.status, message: data.detail ?? data.title });
  return data;
}

// `consent` (views/consent.js) goes with the first exchange only: the server keeps the answer.
export function ticketTokenSource(org, event, ticket, name, consent = null) {
  let pending = consent;
  return async () => {
    const body = name ? { display_name: name } : {};
    if (pending) body.consent = pending;
    const issued = await call("POST", `/orgs/${org}/events/${event}/join-tokens`, {
      body,
      headers: { Authorization: `Ticket ${ticket}` },
    });
    pending = null;
    return issued.token;
  };
}

export async function signIn(email, password) {
  const session = await call("POST", "/sessions", { body: { email, password } });
  return session.csrf_token;
}

export function organiserTokenSource(org, event, csrf) {
  return async () => {
    const issued = await call("POST", `/orgs/${org}/events/${event}/join-tokens`, {
      body: {},
      headers: { "X-CSRF-Token": csrf },
    });
    return issued.token;
  };
}

// The public view of a published event: title, times, agenda, ticket types on sale (404 for drafts).
export function publicEvent(org, event) {
  return call("GET", `/orgs/${encodeURIComponent(org)}/events/${encodeURIComponent(event)}/public`);
}

// The agenda for a signed-in member (a draft has no public page); items as in publicEvent().
export async function memberAgenda(org, event) {
  const found = await call("GET", `/orgs/${encodeURIComponent(org)}/events/${encodeURIComponent(event)}/agenda`);
  return found.items;
}

function idempotencyKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}

// One ticket of a free ticket type (with its invite code when it is invite-only): its ticket code.
export async function orderTicket(org, event, ticketTypeId, buyer, inviteCode = null) {
  const body = { ticket_type_id: ticketTypeId, quantity: 1, buyer };
  if (inviteCode) body.invite_code = inviteCode;
  const placed = await call("POST", `/orgs/${encodeURIComponent(org)}/events/${encodeURIComponent(event)}/orders`, {
    body,
    headers: { "Idempotency-Key": idempotencyKey() },
  });
  if (placed.order.state !== "paid") throw new VenueError({ code: "payment_required", message: "this ticket must be paid" });
  return placed.tickets[0].code;
}
