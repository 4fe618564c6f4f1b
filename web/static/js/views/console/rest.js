// The control API (REST under /api/v1) as the organiser console uses it: the session cookie
// authenticates, and every unsafe request carries the CSRF cookie's value in X-CSRF-Token.
// Refusals are problem documents; they become VenueErrors with the stable code.

import { VenueError } from "../../session.js";

const CSRF_COOKIE = "vk_csrf";

function csrfToken() {
  for (const part of document.cookie.split(";")) {
    const [name, ...rest] = part.trim().split("=");
    if (name === CSRF_COOKIE) return decodeURIComponent(rest.join("="));
  }
  return "";
}

export async function rest(method, path, body, headers = {}) {
  const unsafe = method !== "GET" && method !== "HEAD";
  const response = await fetch(`/api/v1${path}`, {
    method,
    credentials: "same-origin",
    headers: {
      ...(body === undefined ? {} : { "Content-Type": "application/json" }),
      ...(unsafe ? { "X-CSRF-Token": csrfToken() } : {}),
      ...headers,
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 204) return null;
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    const details = (data.errors ?? []).map((e) => `${e.path}: ${e.message}`).join("; ");
    const message = [data.detail ?? data.title ?? `HTTP ${response.status}`, details].filter(Boolean).join(" — ");
    throw new VenueError({ code: data.code ?? `http_${response.status}`, message });
  }
  return data;
}

export const api = {
  me: () => rest("GET", "/me"),
  signIn: (email, password) => rest("POST", "/sessions", { email, password }),
  signOut: () => rest("DELETE", "/sessions/current"),
  events: (org) => rest("GET", `/orgs/${org}/events`).then((r) => r.items),
  createEvent: (org, body) => rest("POST", `/orgs/${org}/events`, body),
  event: (org, event) => rest("GET", `/orgs/${org}/events/${event}`),
  patchEvent: (org, event, body) => rest("PATCH", `/orgs/${org}/events/${event}`, body),
  transition: (org, event, action) => rest("POST", `/orgs/${org}/events/${event}/${action}`),
  spaces: (org, event) => rest("GET", `/orgs/${org}/events/${event}/spaces`).then((r) => r.items),
  createSpace: (org, event, body) => rest("POST", `/orgs/${org}/events/${event}/spaces`, body),
  teams: (org, event) => rest("GET", `/orgs/${org}/events/${event}/teams`).then((r) => r.items),
  createTeam: (org, event, body) => rest("POST", `/orgs/${org}/events/${event}/teams`, body),
  ticketTypes: (org, event) => rest("GET", `/orgs/${org}/events/${event}/ticket-types`).then((r) => r.items),
  createTicketType: (org, event, body) => rest("POST", `/orgs/${org}/events/${event}/ticket-types`, body),
  patchTicketType: (org, event, id, body) =>
    rest("PATCH", `/orgs/${org}/events/${event}/ticket-types/${id}`, body),
  orders: (org, event) => rest("GET", `/orgs/${org}/events/${event}/orders`).then((r) => r.items),
  orderAction: (org, event, id, action) => rest("POST", `/orgs/${org}/events/${event}/orders/${id}/${action}`),
  joinToken: (org, event) => rest("POST", `/orgs/${org}/events/${event}/join-tokens`, {}).then((r) => r.token),
};
