// Human messages for the structured errors ({code, message}) the server sends.

const MESSAGES = {
  token_missing: "This link has no ticket in it. Open the link from your invitation again.",
  token_expired: "Your join link has expired. Reload the event page to get a fresh one.",
  token_invalid: "This join link is not valid.",
  token_revoked: "Your ticket has been revoked. Contact the organiser.",
  ticket_invalid: "This ticket is not valid (it may have been cancelled or refunded).",
  invalid_credentials: "The e-mail or password is not right.",
  too_many_attempts: "Too many sign-in attempts. Wait a few minutes and try again.",
  event_not_joinable: "This event is not open yet, or it has ended.",
  rate_limited: "You are doing that too often. Wait a moment and try again.",
  space_full: "This space is full.",
  space_locked: "The organiser has locked this space.",
  forbidden: "You are not allowed to do that.",
  not_team_member: "Only members of this team can enter its room.",
  NotAllowedError: "The browser blocked the camera or microphone. Allow access and reload.",
  NotFoundError: "No camera or microphone was found.",
  NotReadableError: "The camera or microphone is in use by another application.",
};

export function describeError(error) {
  const code = error?.code ?? error?.data?.code ?? error?.name;
  return MESSAGES[code] ?? error?.message ?? "Something went wrong.";
}
