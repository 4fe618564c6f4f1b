// The organiser console (`/#console`): sign in with the organiser account, choose or create an
// event, plan it (details, spaces, teams, ticket types), see its orders, and run it live.
// Reached from the organiser's room view too. Attendees have no account: they never get past
// the sign-in, and every API call below is refused to them by the server anyway.

import { el } from "../../dom.js";
import { describeError } from "../../errors.js";
import { api } from "./rest.js";
import { field, form, action } from "./forms.js";
import { eventBody, eventFields, PlanningPanel } from "./planning.js";
import { TicketsPanel } from "./tickets.js";
import { LivePanel } from "./live.js";

const CONSOLE_ROLES = new Set(["owner", "organiser"]);
const TABS = [["plan", "Plan"], ["tickets", "Tickets and orders"], ["live", "Live"]];

export class ConsoleView {
  constructor(root, statusLine) {
    this.root = root;
    this.statusLine = statusLine;
    this.body = el("div", { class: "console-body" });
    this.notice = el("p", { class: "console-notice", role: "status", "aria-live": "polite" });
    this.error = el("p", { class: "error", role: "alert", id: "console-error" });
    this.error.hidden = true;
    this.org = null;
    this.event = null;
    this.tab = "plan";
    this.panels = null;
    root.append(this.notice, this.error, this.body);
  }

  status(text) { this.statusLine.textContent = text; }

  say(text) {
    this.error.hidden = true;
    this.notice.textContent = text;
  }

  report(error) {
    this.error.textContent = describeError(error);
    this.error.hidden = false;
    if (error?.code === "unauthenticated") this.signInForm();
  }

  params() {
    return new URLSearchParams(location.hash.replace(/^#console&?/, ""));
  }

  remember() {
    const params = new URLSearchParams();
    if (this.org) params.set("org", this.org);
    if (this.event) params.set("event", this.event.id);
    params.set("tab", this.tab);
    history.replaceState(null, "", `#console&${params}`);
  }

  async start() {
    this.status("organiser console");
    let me;
    try {
      me = await api.me();
    } catch (error) {
      if (error.code === "unauthenticated") return this.signInForm();
      return this.report(error);
    }
    return this.signedIn(me);
  }

  signInForm() {
    this.body.replaceChildren(
      el("h2", {}, "Sign in with your organiser account"),
      form("console-signin", [
        field("E-mail", { name: "email", type: "email", autocomplete: "username", required: true }),
        field("Password", { name: "password", type: "password", autocomplete: "current-password", required: true }),
      ], "Sign in", async (values) => {
        await api.signIn(values.email, values.password);
        await this.signedIn(await api.me());
      }),
      el("p", { class: "hint" }, "Attendees: open the link from your ticket instead; the console is for organisers."),
    );
    this.body.querySelector("input")?.focus();
  }

  async signedIn(me) {
    const orgs = me.memberships.filter((m) => CONSOLE_ROLES.has(m.role));
    if (!orgs.length) {
      this.body.replaceChildren(el("p", { class: "error", role: "alert", id: "console-refused" },
        "Your account is not an organiser of any organisation, so there is no console for you."));
      return;
    }
    const wanted = this.params().get("org");
    this.org = orgs.find((m) => m.org_id === wanted)?.org_id ?? orgs[0].org_id;
    this.me = me;
    const eventId = this.params().get("event");
    this.tab = TABS.some(([t]) => t === this.params().get("tab")) ? this.params().get("tab") : "plan";
    if (eventId) {
      try {
        return await this.open(await api.event(this.org, eventId));
      } catch (error) {
        this.report(error);
      }
    }
    return this.eventList();
  }

  async eventList() {
    this.panels?.live.close();
    this.event = null;
    this.panels = null;
    this.remember();
    const events = await api.events(this.org);
    const onError = (error) => this.report(error);
    this.body.replaceChildren(
      el("h2", {}, `Signed in as ${this.me.name}`),
      el("h2", {}, "Your events"),
      el("ul", { class: "event-list", id: "console-events" }, ...events.map((e) => el("li", {},
        action(e.title, () => this.open(e), onError, { "data-event": e.id }),
        ` ${e.state} · ${new Date(e.starts_at).toLocaleString()}`))),
      el("h2", {}, "New event"),
      form("event-create", eventFields(), "Create event", async (values) => {
        const created = await api.createEvent(this.org, eventBody(values));
        this.say(`Event ${created.title} created.`);
        await this.open(created);
      }),
    );
  }

  async open(event) {
    this.panels?.live.close();
    this.event = event;
    this.panels = { plan: new PlanningPanel(this), tickets: new TicketsPanel(this), live: new LivePanel(this) };
    await this.show(this.tab);
  }

  async show(tab) {
    this.tab = tab;
    this.remember();
    const tabs = el("div", { class: "console-tabs", role: "tablist", "aria-label": "Console sections" },
      ...TABS.map(([name, label]) => {
        const button = el("button", { type: "button", role: "tab", "aria-selected": String(name === tab), "data-tab": name }, label);
        button.addEventListener("click", () => this.show(name).catch((error) => this.report(error)));
        return button;
      }));
    const back = action("All events", () => this.eventList(), (error) => this.report(error), { class: "console-back" });
    const panel = this.panels[tab];
    this.body.replaceChildren(el("div", { class: "console-head" }, el("h2", { id: "console-event-title" }, this.event.title), back), tabs, panel.root);
    await panel.render();
  }

  /** Reload the event and re-render the current tab (after a lifecycle change or an edit). */
  async refresh() {
    this.event = await api.event(this.org, this.event.id);
    this.body.querySelector("#console-event-title").textContent = this.event.title;
    await this.panels[this.tab].render();
  }
}
