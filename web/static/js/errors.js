// Human messages for the structured errors ({code, message}) the server sends: the venue and
// media codes of docs/protocol.md, the chat codes of docs/chat-design.md, the control API's
// problem codes (control_api/problems.py), and the browser's own media errors. An unknown code
// falls back to the server's message, which is always human-readable.

const MESSAGES = {
  // joining (socket refused)
  token_missing: "This link has no ticket in it. Open the link from your invitation again.",
  token_expired: "Your join link has expired. Reload the event page to get a fresh one.",
  token_invalid: "This join link is not valid.",
  token_revoked: "Your ticket has been revoked. Contact the organiser.",
  token_unknown_key: "This join link was signed with a key the server no longer knows. Reload the event page.",
  unknown_event: "This event does not exist (any more).",
  wrong_event: "This link is for another event.",
  event_ended: "The event has ended. Thank you for coming!",
  removed: "An organiser removed you from this event.",
  venue_unavailable: "The event cannot be reached right now. We keep trying; reload if it lasts.",
  connect_failed: "Cannot reach the server. Check your connection; we keep trying.",
  // spaces
  space_full: "This space is full. Try another one, or come back in a moment.",
  space_locked: "The organiser has locked this space.",
  space_ended: "This space has ended.",
  space_not_allowed: "Your ticket does not give access to this space.",
  unknown_space: "That space does not exist (any more).",
  not_team_member: "Only members of this team can enter its room.",
  not_in_space: "Enter a space first.",
  already_in_space: "You are already in this space.",
  already_connected: "You are already connected in another window.",
  not_connected: "You are not connected. Wait for the connection to come back.",
  not_assigned: "You have no breakout room assigned.",
  // media
  publish_not_allowed: "You cannot send video or sound here (on a stage, wait for an organiser to invite you).",
  already_published: "You are already sending this.",
  not_published: "You are not sending this.",
  too_many_publishers: "Too many people are sending video in this space already.",
  too_many_subscribers: "This space cannot take more viewers right now.",
  too_many_tracks: "You are sending too many tracks at once.",
  too_many_spaces: "The media server is at its limit. Try again in a moment.",
  no_media_node: "No media server is available right now. Try again in a moment.",
  node_closed: "The media server restarted. Reconnecting…",
  malformed_sdp: "Your browser's media offer was refused. Reload the page.",
  unsupported_codec: "Your browser offers no video or audio format the server supports.",
  negotiation_failed: "Setting up video failed. Reload the page to try again.",
  invalid_state: "Setting up video failed. Reload the page to try again.",
  node_unreachable: "The media server cannot be reached right now. Reconnecting…",
  unknown_track: "That video is no longer available.",
  // organiser actions
  forbidden: "You are not allowed to do that.",
  target_is_organiser: "That is an organiser: organisers cannot be muted or removed.",
  unknown_participant: "That person is no longer here.",
  invalid_target: "That person cannot be moved that way.",
  breakouts_open: "Breakouts are already open for this space.",
  no_breakouts: "There are no breakouts open for this space.",
  invalid_breakout_plan: "That breakout plan does not work (check the groups and sizes).",
  // generic request errors
  rate_limited: "You are doing that too often. Wait a moment and try again.",
  invalid_payload: "The request was not understood.",
  missing_field: "The request was missing something.",
  unknown_field: "The request had something unexpected in it.",
  payload_too_large: "That is too long.",
  // chat
  channel_locked: "An organiser has locked this chat.",
  channel_not_found: "This chat is not available to you.",
  empty_message: "Write something first.",
  message_too_long: "That message is too long (at most 2000 characters).",
  muted: "An organiser has muted you in this chat.",
  unavailable: "Chat is unavailable right now. Try again in a moment.",
  // control API (sign-in, tickets, console)
  invalid_credentials: "The e-mail or password is not right.",
  login_rate_limited: "Too many failed sign-ins. Wait a few minutes and try again.",
  too_many_attempts: "Too many sign-in attempts. Wait a few minutes and try again.",
  unauthenticated: "Please sign in.",
  csrf_failed: "Your session is out of date. Reload the page and try again.",
  ticket_invalid: "This ticket code is not valid. Check it for typos; it may also have been cancelled or refunded.",
  terms_not_accepted: "You need to accept the event's terms to join.",
  invite_invalid: "This invite code is not valid. Check it for typos.",
  invite_required: "This ticket needs an invite code.",
  invite_exhausted: "This invite code has been used up. Ask the organiser for a new one.",
  order_limit_exceeded: "Too many tickets in one order.",
  payment_required: "This ticket must be paid; the event page cannot take payments yet.",
  event_not_found: "We cannot find this event. It may not be published yet, or the link is wrong.",
  event_not_joinable: "This event is not open yet, or it has ended.",
  event_not_editable: "This event has ended and can no longer be changed.",
  event_not_on_sale: "Tickets for this event are not on sale now.",
  invalid_transition: "The event cannot go to that state from where it is.",
  invalid_time_range: "The end must come after the start.",
  invalid_time_zone: "Unknown time zone (use a name like Europe/Berlin).",
  validation_failed: "Some fields are not valid.",
  not_found: "Not found (it may have been removed).",
  sold_out: "Sold out: not enough tickets left.",
  sales_closed: "Ticket sales are not open now.",
  quota_below_sold: "The quota cannot go below the tickets already sold.",
  capacity_below_sold: "The capacity cannot go below the tickets already sold.",
  team_full: "This team is full.",
  already_in_team: "Already a member of a team in this event.",
  service_unavailable: "The server's data store is unavailable. Try again in a moment.",
  // the browser's media errors
  NotAllowedError: "The browser blocked the camera, microphone or screen. Allow access and try again.",
  NotFoundError: "No camera or microphone was found.",
  NotReadableError: "The camera or microphone is in use by another application.",
  OverconstrainedError: "The chosen camera or microphone is not available. Pick another one.",
};

/** Codes whose server message adds useful detail (which field, which limit) to ours. */
const WITH_DETAIL = new Set(["validation_failed", "invalid_payload", "invalid_time_range", "invalid_breakout_plan",
  "invalid_transition", "rate_limited"]);

export function describeError(error) {
  const code = error?.code ?? error?.data?.code ?? error?.name;
  const known = MESSAGES[code];
  if (!known) return error?.message ?? "Something went wrong.";
  return WITH_DETAIL.has(code) && error?.message ? `${known} (${error.message})` : known;
}

export const KNOWN_ERROR_CODES = Object.keys(MESSAGES);
