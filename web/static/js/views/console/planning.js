// Planning an event: its details and lifecycle (publish, start, end), its spaces and its teams.

import { el } from "../../dom.js";
import { api } from "./rest.js";
import { action, field, form, fromLocalInput, table, toLocalInput } from "./forms.js";

const NEXT_ACTIONS = { draft: ["publish"], published: ["start"], live: ["end"], ended: [] };
const ACTION_LABEL = { publish: "Publish (tickets on sale)", start: "Start (go live)", end: "End the event" };

/** The fields an event form shares between "create" and "edit". */
export function eventFields(event = {}) {
  return [
    field("Title", { name: "title", required: true, maxlength: 200, value: event.title ?? "" }),
    field("Description", { name: "description", maxlength: 10000, value: event.description ?? "" }),
    field("Starts", { name: "starts_at", type: "datetime-local", required: true, value: toLocalInput(event.starts_at) }),
    field("Ends", { name: "ends_at", type: "datetime-local", required: true, value: toLocalInput(event.ends_at) }),
    field("Time zone", {
      name: "time_zone", required: true,
      value: event.time_zone ?? Intl.DateTimeFormat().resolvedOptions().timeZone ?? "UTC",
    }),
    field("Capacity", { name: "capacity", type: "number", min: 1, max: 1000000, required: true, value: event.capacity ?? 500 }),
  ];
}

export function eventBody(values) {
  const body = {
    title: values.title,
    time_zone: values.time_zone,
    starts_at: fromLocalInput(values.starts_at),
    ends_at: fromLocalInput(values.ends_at),
    capacity: Number(values.capacity),
  };
  if (values.description) body.description = values.description;
  return body;
}

export class PlanningPanel {
  constructor(console) {
    this.console = console;
    this.root = el("section", { class: "console-panel", "aria-labelledby": "plan-title" });
  }

  get org() { return this.console.org; }
  get eventId() { return this.console.event.id; }

  async render() {
    const [spaces, teams] = await Promise.all([api.spaces(this.org, this.eventId), api.teams(this.org, this.eventId)]);
    const event = this.console.event;
    const onError = (error) => this.console.report(error);
    const lifecycle = (NEXT_ACTIONS[event.state] ?? []).map((name) =>
      action(ACTION_LABEL[name], async () => {
        this.console.event = await api.transition(this.org, this.eventId, name);
        this.console.say(`The event is now ${this.console.event.state}.`);
        await this.console.refresh();
      }, onError, { "data-action": name }));
    const teamName = new Map(teams.map((t) => [t.id, t.name]));
    this.root.replaceChildren(
      el("h2", { id: "plan-title" }, "Event"),
      el("p", {}, "State: ", el("strong", { id: "event-state" }, event.state), " ", ...lifecycle),
      form("event-edit", eventFields(event), "Save changes", async (values) => {
        this.console.event = await api.patchEvent(this.org, this.eventId, eventBody(values));
        this.console.say("Event saved.");
        await this.console.refresh();
      }),
      el("h2", {}, "Spaces"),
      table("Stages, rooms and team rooms", ["Name", "Kind", "Capacity", "Team"],
        spaces.map((s) => [s.name, s.kind.replace("_", " "), String(s.capacity), s.team_id ? teamName.get(s.team_id) ?? "" : ""]),
        "spaces"),
      form("space-create", [
        field("Space name", { name: "name", required: true, maxlength: 200 }),
        field("Kind", { name: "kind", options: [["room", "Room"], ["stage", "Stage"]] }),
        field("Capacity", { name: "capacity", type: "number", min: 1, max: 100000, required: true, value: 50 }),
      ], "Add space", async (values, node) => {
        await api.createSpace(this.org, this.eventId, { name: values.name, kind: values.kind, capacity: Number(values.capacity) });
        node.reset();
        this.console.say(`Space ${values.name} added.`);
        await this.render();
      }),
      el("h2", {}, "Hackathon teams"),
      table("Teams (each has its own team room)", ["Team", "Members", "Largest size"],
        teams.map((t) => [t.name, String(t.members.length), String(t.size_max)]), "teams"),
      event.state === "published" || event.state === "live"
        ? form("team-create", [field("Team name", { name: "name", required: true, maxlength: 80 })], "Add team",
          async (values, node) => {
            await api.createTeam(this.org, this.eventId, { name: values.name });
            node.reset();
            this.console.say(`Team ${values.name} added.`);
            await this.render();
          })
        : el("p", { class: "hint" }, "Teams can be added once the event is published."),
    );
  }
}
