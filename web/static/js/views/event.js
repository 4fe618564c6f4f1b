// The event page (``/#/e/<org>/<event>``): what a participant needs before joining (title,
// description, times in the viewer's time zone, the agenda) and the ways in: a ticket code, an
// invite code, a free ticket, single sign-on and organiser sign-in. Everything comes from the
// control API's public endpoint, which shows published events only; all of it is set as text.

import { el } from "../dom.js";
import { describeError } from "../errors.js";
import { orderTicket, publicEvent } from "../api.js";
import { formatRange, renderAgenda } from "../agenda.js";

function field(id, label, attrs = {}) {
  const input = el("input", { id, name: id, autocomplete: "off", ...attrs });
  return { input, nodes: [el("label", { for: id }, label), input] };
}

function describe(error) {
  return describeError(error?.code === "not_found" ? { code: "event_not_found" } : error);
}

export class EventPage {
  constructor(root, org, event) {
    this.root = root;
    this.org = org;
    this.event = event;
    this.info = null;
    /** Set by main.js: called with {ticket, name}; a rejection is shown on this page. */
    this.onTicket = async () => {};
    this.error = el("p", { id: "event-error", class: "error", role: "alert", tabindex: "-1", hidden: true });
  }

  /** The public event (after rendering it), or null when it cannot be shown (the reason is). */
  async load() {
    try {
      this.info = await publicEvent(this.org, this.event);
    } catch (error) {
      this.root.replaceChildren(
        el("h1", { id: "event-title" }, "Event not found"),
        el("p", { id: "event-missing", class: "error", role: "alert" }, describe(error)),
        el("p", {}, el("a", { href: "/" }, "Join with a link instead")),
      );
      return null;
    }
    this.render();
    return this.info;
  }

  showError(error) {
    this.error.textContent = describe(error);
    this.error.hidden = false;
    this.error.focus();
  }

  async busy(form, work) {
    const buttons = [...form.querySelectorAll("button")];
    for (const b of buttons) b.disabled = true;
    this.error.hidden = true;
    try {
      await work();
    } catch (error) {
      this.showError(error);
    } finally {
      for (const b of buttons) b.disabled = b.dataset.soldOut === "true";
    }
  }

  render() {
    const info = this.info;
    const agenda = el("ol", { id: "event-agenda", class: "agenda", "aria-labelledby": "event-agenda-title" });
    renderAgenda(agenda, info.agenda);
    const timeZone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    const ended = info.state === "ended";
    this.root.replaceChildren(
      el("h1", { id: "event-title" }, info.title),
      el("p", { id: "event-when", class: "event-when" }, formatRange(info.starts_at, info.ends_at)),
      el("p", { class: "hint" }, `Times are in your time zone (${timeZone}); the event is planned in ${info.time_zone}.`),
      info.state === "live" ? el("p", { class: "event-live" }, "Happening now") : "",
      el("p", { id: "event-description", class: "event-description" }, info.description),
      el("div", { class: "event-columns" },
        el("div", {},
          el("h2", { id: "event-agenda-title" }, "Agenda"),
          agenda),
        el("div", { class: "event-join" },
          el("h2", {}, ended ? "This event has ended" : "Join"),
          ...(ended ? [el("p", {}, "Thank you for your interest. Recordings, if any, come from the organiser.")] : this.ways()),
          this.error,
          el("h2", {}, "Signing in instead?"),
          el("p", {}, el("a", { id: "event-sso", href: this.ssoHref() }, "Sign in with your company")),
          el("p", {}, el("a", { id: "event-organiser", href: this.organiserHref() }, "Organisers: sign in")))),
    );
  }

  organiserHref() {
    return "/#" + new URLSearchParams({ org: this.org, event: this.event });
  }

  ssoHref() {
    const org = encodeURIComponent(this.org);
    return `/api/v1/orgs/${org}/sso/login?next=${encodeURIComponent(this.organiserHref())}`;
  }

  ways() {
    const types = this.info.ticket_types;
    const free = types.filter((t) => !t.invite_only && t.price_minor === 0);
    const invited = types.filter((t) => t.invite_only && t.price_minor === 0);
    const out = [this.ticketForm()];
    if (invited.length) out.push(this.inviteForm(invited));
    if (free.length) out.push(this.freeForm(free.find((t) => !t.sold_out) ?? free[0]));
    if (!types.length) out.push(el("p", { id: "event-sales", class: "hint" }, "Ticket sales are not open now."));
    else if (!free.length && !invited.length) {
      out.push(el("p", { id: "event-sales", class: "hint" }, "Tickets for this event are sold by the organiser."));
    }
    return out;
  }

  ticketForm() {
    const code = field("ticket-code", "Ticket code", { required: true });
    const name = field("ticket-name", "Your name (optional, shown to others)", { maxlength: 64 });
    const form = el("form", { id: "ticket-form", class: "event-form", "aria-labelledby": "ticket-form-title" },
      el("h3", { id: "ticket-form-title" }, "I have a ticket code"),
      ...code.nodes, ...name.nodes,
      el("button", { type: "submit" }, "Join with my ticket"));
    form.addEventListener("submit", (submitted) => {
      submitted.preventDefault();
      this.busy(form, () => this.onTicket({ ticket: code.input.value.trim(), name: name.input.value.trim() || null }));
    });
    return form;
  }

  buyerFields(prefix) {
    const name = field(`${prefix}-name`, "Your name", { required: true, maxlength: 64, autocomplete: "name" });
    const email = field(`${prefix}-email`, "E-mail", { required: true, type: "email", autocomplete: "email" });
    const buyer = () => ({ name: name.input.value.trim(), email: email.input.value.trim() });
    return { nodes: [...name.nodes, ...email.nodes], buyer };
  }

  inviteForm(types) {
    const code = field("invite-code", "Invite code", { required: true, maxlength: 64 });
    const buyer = this.buyerFields("invite");
    const form = el("form", { id: "invite-form", class: "event-form", "aria-labelledby": "invite-form-title" },
      el("h3", { id: "invite-form-title" }, "I have an invite code"),
      ...code.nodes, ...buyer.nodes,
      el("button", { type: "submit" }, "Redeem my invite"));
    form.addEventListener("submit", (submitted) => {
      submitted.preventDefault();
      this.busy(form, async () => {
        // an invite belongs to one ticket type, which the public cannot see: try the invite-only ones
        let lastError = null;
        for (const type of types) {
          try {
            const ticket = await orderTicket(this.org, this.event, type.id, buyer.buyer(), code.input.value.trim());
            this.issued(form, ticket, buyer.buyer().name);
            return;
          } catch (error) {
            if (error.code !== "invite_invalid") throw error;
            lastError = error;
          }
        }
        throw lastError;
      });
    });
    return form;
  }

  freeForm(type) {
    const buyer = this.buyerFields("free");
    const button = el("button", { type: "submit", "data-sold-out": type.sold_out ? "true" : "false" },
      type.sold_out ? "Sold out" : "Get a free ticket");
    button.disabled = type.sold_out;
    const form = el("form", { id: "free-form", class: "event-form", "aria-labelledby": "free-form-title" },
      el("h3", { id: "free-form-title" }, `Get a free ticket: ${type.name}`),
      ...buyer.nodes, button);
    form.addEventListener("submit", (submitted) => {
      submitted.preventDefault();
      this.busy(form, async () => {
        const ticket = await orderTicket(this.org, this.event, type.id, buyer.buyer());
        this.issued(form, ticket, buyer.buyer().name);
      });
    });
    return form;
  }

  /** A new ticket: show its code (the way back in later), then continue as with a ticket. */
  issued(form, ticket, name) {
    const go = el("button", { id: "issued-continue", type: "button" }, "Continue to the event");
    const box = el("div", { id: "issued-ticket", class: "event-form", role: "status" },
      el("h3", {}, "Your ticket"),
      el("p", {}, "Keep this code: with it you can come back at any time."),
      el("p", {}, el("code", { id: "issued-code" }, ticket)),
      go);
    form.replaceWith(box);
    go.addEventListener("click", () => this.busy(box, () => this.onTicket({ ticket, name })));
    go.focus();
  }
}
