// Entry point. Without a join token: the join form and the device check. With one
// (``/#token=...``): connect, the lobby with live counts and the agenda, rooms with video, and the
// event chat. ``/#/e/<org>/<event>`` is the event page, where a participant redeems a ticket or
// invite code or gets a free ticket, then goes on as with a ticket link.

import { $, toast } from "./dom.js";
import { DeviceCheck } from "./devices.js";
import { describeError } from "./errors.js";
import { Session } from "./session.js";
import { MediaSession } from "./media.js";
import { ScreenShare } from "./screenshare.js";
import { ChatPanel } from "./chat.js";
import { organiserTokenSource, signIn, ticketTokenSource } from "./api.js";
import { EventPage } from "./views/event.js";
import { LobbyView } from "./views/lobby.js";
import { askConsent } from "./views/consent.js";
import { RoomView } from "./views/room.js";

const VIEWS = ["view-event", "view-join", "view-signin", "view-error", "view-devices", "view-lobby", "view-room", "view-console"];

function show(...ids) {
  for (const id of VIEWS) $(`#${id}`).hidden = !ids.includes(id);
}

function tokenFrom(text) {
  const hash = text.includes("#") ? text.slice(text.indexOf("#") + 1) : text;
  return new URLSearchParams(hash).get("token") ?? (text.split(".").length === 3 ? text.trim() : null);
}

async function showServerStatus() {
  const out = $("#server-status");
  try {
    const response = await fetch("/readyz");
    const body = await response.json();
    out.textContent = body.status === "ready" ? "server ready" : `server ${body.status}`;
  } catch {
    out.textContent = "server unreachable";
  }
}

function withoutToken(check) {
  show("view-join", "view-devices");
  $("#join-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const token = tokenFrom($("#join-link").value);
    if (!token) {
      toast("That is not a join link.");
      return;
    }
    location.hash = `token=${token}`;
    location.reload();
  });
  return check.start();
}

function claimsOf(token) {
  try {
    return JSON.parse(atob(token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/")));
  } catch {
    return {};
  }
}

// ``first``: a token the caller already has (the event page exchanged the ticket to check it).
async function withToken(tokenSource, check, first = null) {
  let token = first;
  try {
    token ??= await tokenSource();
  } catch (error) {
    $("#join-error").textContent = describeError(error);
    show("view-error");
    return;
  }
  show("view-devices", "view-lobby");
  $("#chat").hidden = false;
  const session = new Session(tokenSource, token);
  const media = new MediaSession(session);
  const screen = new ScreenShare(session, media);
  const room = new RoomView($("#view-room"), session, media, (error) => toast(describeError(error)), { check, screen });
  const enter = (spaceId) =>
    session.request("join_space", { space_id: spaceId }).catch((error) => toast(describeError(error)));
  const lobby = new LobbyView($("#view-lobby"), session, enter);
  const claims = claimsOf(token);
  if (claims.org && claims.evt) lobby.loadAgenda(claims.org, claims.evt);
  new ChatPanel($("#chat"), session);
  window.venuekit = { deviceCheck: check, session, media, room, screen };

  session.on("status", ({ state }) => {
    $("#server-status").textContent = state === "connected" ? "connected" : "reconnecting…";
  });
  session.on("refused", (error) => {
    $("#join-error").textContent = describeError(error);
    show("view-error");
  });
  for (const name of ["removed", "event_ended"]) {
    session.on(name, (data) => {
      $("#join-error").textContent = data.reason || "The event has ended.";
      show("view-error");
    });
  }
  session.on("space_ended", (data) => toast(`This space has ended: ${data.reason}`));
  session.on("breakout_broadcast", (data) => toast(`Organiser: ${data.text}`));
  media.addEventListener("error", (event) => toast(describeError(event.detail)));
  $("#leave-room").addEventListener("click", () => session.request("leave_space").catch(() => {}));

  session.on("presence", async ({ name, data }) => {
    // promoted to a live speaker, or sent back: start or stop sending
    if (name !== "permissions" || !session.space || data.space_id !== session.space.space_id) return;
    const may = data.may_publish.some((kind) => kind === "camera" || kind === "microphone");
    if (may && !media.pub) {
      await startPublishing(session, media, room, check, session.space).catch((error) => toast(describeError(error)));
    } else if (!may && media.pub) {
      media.pub.close();
      media.pub = null;
    }
  });
  session.on("space", async (space) => {
    media.reset();
    if (space.kind === "lobby") {
      show("view-devices", "view-lobby");
      return;
    }
    show("view-room");
    await startPublishing(session, media, room, check, space).catch((error) => toast(describeError(error)));
  });
  await check.start();
}

async function startPublishing(session, media, room, check, space) {
  const allowed = space.may_publish.filter((kind) => kind === "camera" || kind === "microphone");
  if (!allowed.length || !check.stream) return;
  for (const kind of allowed) {
    await session.request("publish", { kind }).catch((error) => {
      if (error.code !== "already_published") throw error;
    });
  }
  const wanted = { camera: "video", microphone: "audio" };
  const tracks = check.stream.getTracks().filter((t) => allowed.some((k) => wanted[k] === t.kind));
  const stream = new MediaStream(tracks);
  room.showLocal(stream);
  await media.publish(stream);
}

function organiserSignIn(org, event, check) {
  show("view-signin", "view-devices");
  // single sign-on: the API redirects to the organisation's provider and back to this page
  const back = `/#org=${encodeURIComponent(org)}&event=${encodeURIComponent(event)}`;
  $("#signin-sso").href = `/api/v1/orgs/${encodeURIComponent(org)}/sso/login?next=${encodeURIComponent(back)}`;
  const ssoCsrf = document.cookie.split("; ").find((c) => c.startsWith("vk_csrf="))?.slice(8);
  if (ssoCsrf) {
    // back from single sign-on (or signed in before): the session cookie is there already
    const source = organiserTokenSource(org, event, ssoCsrf);
    source().then(() => withToken(source, check), () => {}); // no valid session: stay on the form
  }
  const form = $("#signin-form");
  form.addEventListener("submit", async (submitted) => {
    submitted.preventDefault();
    try {
      const csrf = await signIn($("#signin-email").value, $("#signin-password").value);
      await withToken(organiserTokenSource(org, event, csrf), check);
    } catch (error) {
      $("#signin-error").textContent = describeError(error);
      $("#signin-error").hidden = false;
    }
  });
  return check.start();
}

async function eventPage(org, event, check) {
  show("view-event");
  showServerStatus();
  window.venuekit = { deviceCheck: check };
  // the organiser sign-in link only changes the address's fragment: start that flow afresh
  const reload = () => location.reload();
  window.addEventListener("hashchange", reload);
  const page = new EventPage($("#view-event"), org, event);
  page.onTicket = async ({ ticket, name }) => {
    const consent = await askConsent(org, event);
    const source = ticketTokenSource(org, event, ticket, name, consent);
    const token = await source(); // a bad code is refused here and shown on the event page
    window.removeEventListener("hashchange", reload);
    // reloading the page now goes straight back in, like a prepared ticket link
    const link = new URLSearchParams({ org, event, ticket, ...(name ? { name } : {}) });
    history.replaceState(null, "", `/#${link}`);
    await withToken(source, check, token);
  };
  await page.load();
}

async function startConsole() {
  // loaded on demand: participants never download the console
  const { ConsoleView } = await import("./views/console/index.js");
  show("view-console");
  $("#chat").hidden = true;
  const view = new ConsoleView($("#view-console"), $("#server-status"));
  window.venuekit = { console: view };
  await view.start();
}

async function main() {
  if (location.hash.startsWith("#console")) {
    await startConsole();
    return;
  }
  const check = new DeviceCheck($("#view-devices"));
  const route = /^#\/e\/([^/?#&]+)\/([^/?#&]+)\/?$/.exec(location.hash);
  if (route) {
    await eventPage(decodeURIComponent(route[1]), decodeURIComponent(route[2]), check);
    return;
  }
  const params = new URLSearchParams(location.hash.slice(1));
  const token = tokenFrom(location.hash.slice(1));
  const [org, event, ticket] = [params.get("org"), params.get("event"), params.get("ticket")];
  if (token) {
    await withToken(async () => token, check);
  } else if (org && event && ticket) {
    const consent = await askConsent(org, event);
    await withToken(ticketTokenSource(org, event, ticket, params.get("name"), consent), check);
  } else if (org && event) {
    await organiserSignIn(org, event, check);
  } else {
    showServerStatus();
    window.venuekit = { deviceCheck: check };
    await withoutToken(check);
  }
}

main();
