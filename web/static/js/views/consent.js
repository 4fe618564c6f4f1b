// The consent step of the join flow: before a ticket is exchanged for a join token, the
// participant says what they agree to. Terms are required to join; recording and analytics are
// their free choice (declining analytics still counts them for billing, never profiles them).
// The answer goes to the server with the first token exchange, which records it with its version
// and time (docs/privacy.md); this browser remembers it per event so it asks once.

import { $, el } from "../dom.js";

export const CONSENT_VERSION = "2026-05";

function storageKey(org, event) {
  return `vk-consent:${org}:${event}`;
}

function remembered(org, event) {
  try {
    const stored = JSON.parse(localStorage.getItem(storageKey(org, event)) ?? "null");
    return stored && stored.version === CONSENT_VERSION && stored.terms === true ? stored : null;
  } catch {
    return null;
  }
}

function choice(id, label, help, required = false) {
  const box = el("input", { id, type: "checkbox", required });
  const row = el("label", { for: id, class: "consent-choice" }, box, " ", label);
  return { box, row: el("div", {}, row, el("p", { class: "consent-help" }, help)) };
}

// Resolves with {version, terms, recording, analytics} once the participant agreed to the terms.
export function askConsent(org, event) {
  const known = remembered(org, event);
  if (known) return Promise.resolve(known);
  const terms = choice("consent-terms", "I accept the event's terms of participation", "Required to join.", true);
  const recording = choice(
    "consent-recording",
    "Sessions I take part in may be recorded",
    "Without it you can still join; you will not be recorded on stage.",
  );
  const analytics = choice(
    "consent-analytics",
    "Measure my engagement (chat, reactions, speaking time)",
    "Without it we only count that you attended, which the organiser needs for billing.",
  );
  const submit = el("button", { id: "consent-submit", type: "submit", disabled: true }, "Continue");
  const form = el("form", { id: "consent-form", class: "join-form" }, terms.row, recording.row, analytics.row, submit);
  const view = el(
    "section",
    { id: "view-consent", class: "view", "aria-labelledby": "consent-title" },
    el("h1", { id: "consent-title" }, "Before you join"),
    el("p", {}, "Choose what you agree to. You can download or erase your data later."),
    form,
  );
  const main = $("#main");
  const hidden = [...main.querySelectorAll(".view")].filter((v) => !v.hidden);
  for (const other of hidden) other.hidden = true;
  main.prepend(view);
  terms.box.addEventListener("change", () => {
    submit.disabled = !terms.box.checked;
  });
  return new Promise((resolve) => {
    form.addEventListener("submit", (submitted) => {
      submitted.preventDefault();
      if (!terms.box.checked) return;
      const answer = {
        version: CONSENT_VERSION,
        terms: true,
        recording: recording.box.checked,
        analytics: analytics.box.checked,
      };
      try {
        localStorage.setItem(storageKey(org, event), JSON.stringify(answer));
      } catch {
        // private browsing: ask again next time
      }
      view.remove();
      for (const other of hidden) other.hidden = false;
      resolve(answer);
    });
  });
}
