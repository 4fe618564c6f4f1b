// The control API calls the browser needs to get a join token: by ticket code, or as a signed-in
// organiser (session cookie + CSRF header).

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
