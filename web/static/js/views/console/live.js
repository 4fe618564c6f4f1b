// Running the event live: participant counts per space (pushed by the server as `space_count`),
// and the organiser's controls over Socket.IO: lock or end a space, manage the occupants of a
// space (stage roles, spotlight, mute, lower hand, remove), breakouts, and ending the event.

import { el } from "../../dom.js";
import { Session } from "../../session.js";
import { api } from "./rest.js";
import { action, field, form, table } from "./forms.js";

const KIND_LABEL = { lobby: "Lobby", stage: "Stage", room: "Room", team_room: "Team room", breakout: "Breakout" };

export class LivePanel {
  constructor(console) {
    this.console = console;
    this.session = null;
    this.managed = null; // the space id the organiser manages (and is in)
    this.breakouts = new Map(); // origin space id -> room ids
    this.root = el("section", { class: "console-panel", "aria-labelledby": "live-title" });
    this.counts = el("div", { id: "live-counts" });
    this.total = el("p", { id: "live-total", role: "status", "aria-live": "polite" });
    this.occupants = el("div", { id: "live-occupants" });
  }

  get onError() { return (error) => this.console.report(error); }

  async render() {
    const state = this.console.event.state;
    if (state === "ended") {
      this.root.replaceChildren(el("h2", { id: "live-title" }, "Live"), el("p", {}, "The event has ended."));
      return;
    }
    if (!this.session) await this.connect();
    this.root.replaceChildren(
      el("h2", { id: "live-title" }, "Live"),
      this.total, this.counts, this.occupants,
      el("h3", {}, "End the event"),
      form("end-event", [field("Reason shown to everyone", { name: "reason", maxlength: 200, value: "Thank you for coming!" })],
        "End the event for everyone", async (values) => {
          await this.session.request("end_event", { reason: values.reason });
          this.console.say("The event has ended for everyone.");
        }),
    );
    this.renderCounts();
    this.renderOccupants();
  }

  async connect() {
    const org = this.console.org;
    const eventId = this.console.event.id;
    const tokenSource = () => api.joinToken(org, eventId);
    const session = new Session(tokenSource, await tokenSource());
    this.session = session;
    window.venuekit = { ...(window.venuekit ?? {}), console: this.console, session };
    session.on("welcome", () => this.renderCounts());
    session.on("counts", () => this.renderCounts());
    session.on("space", () => this.renderOccupants());
    session.on("presence", () => this.renderOccupants());
    session.on("status", ({ state }) => this.console.status(state === "connected" ? "live: connected" : "live: reconnecting…"));
    session.on("refused", (error) => this.onError(error));
    session.on("event_ended", (data) => this.console.say(`The event has ended: ${data.reason}`));
    session.on("breakouts_opened", (data) => {
      this.breakouts.set(data.origin_space_id, data.rooms.map((r) => r.space_id));
      data.rooms.forEach((room, i) => {
        if (!session.spaces.has(room.space_id)) {
          session.spaces.set(room.space_id, {
            space_id: room.space_id, kind: "breakout", title: `Breakout ${i + 1}`,
            count: room.participant_ids.length, capacity: null, locked: false, ended: false,
            breakout_origin: data.origin_space_id,
          });
        }
      });
      this.renderCounts();
      this.renderOccupants();
    });
    session.on("breakouts_closed", (data) => {
      this.breakouts.delete(data.origin_space_id);
      for (const id of data.room_ids) session.spaces.delete(id);
      this.renderCounts();
      this.renderOccupants();
    });
    session.on("venue", () => this.renderCounts()); // spaces added or changed in the plan
  }

  renderCounts() {
    if (!this.session) return;
    const spaces = [...this.session.spaces.values()].filter((s) => !s.ended);
    const total = spaces.reduce((sum, s) => sum + (s.count ?? 0), 0);
    this.total.textContent = `${total} participant${total === 1 ? "" : "s"} connected`;
    const rows = spaces.map((s) => {
      const title = s.title || s.space_id;
      const controls = [];
      if (s.kind !== "lobby") {
        controls.push(action(s.locked ? "Unlock" : "Lock", async () => {
          await this.session.request("lock_space", { space_id: s.space_id, locked: !s.locked });
          s.locked = !s.locked;
          this.renderCounts();
        }, this.onError, { "aria-label": `${s.locked ? "Unlock" : "Lock"} ${title}` }));
        controls.push(action(this.managed === s.space_id ? "Managing" : "Manage", async () => {
          const before = this.managed;
          this.managed = s.space_id;
          try {
            await this.session.request("join_space", { space_id: s.space_id });
          } catch (error) {
            this.managed = before;
            throw error;
          }
          this.renderCounts();
          this.renderOccupants();
        }, this.onError, { "aria-label": `Manage ${title}`, "data-manage": s.space_id }));
        controls.push(action("End", async () => {
          await this.session.request("end_space", { space_id: s.space_id, reason: "The organiser closed this space." });
          this.console.say(`${title} has ended.`);
        }, this.onError, { "aria-label": `End ${title}` }));
      }
      return [
        title,
        KIND_LABEL[s.kind] ?? s.kind,
        el("span", { class: "live-count", "data-space": s.space_id }, String(s.count ?? 0)),
        s.capacity ? String(s.capacity) : "—",
        s.locked ? "locked" : "open",
        el("span", { class: "row-actions" }, ...controls),
      ];
    });
    this.counts.replaceChildren(table("Participants per space (live)", ["Space", "Kind", "Here", "Capacity", "Doors", ""], rows, "live"));
  }

  renderOccupants() {
    // presence changes often: never wipe a form the organiser is filling in; render on leaving it
    const editing = document.activeElement?.closest?.("form");
    if (editing && this.occupants.contains(editing)) {
      if (!this.deferred) {
        this.deferred = true;
        const later = () => setTimeout(() => {
          if (editing.isConnected && editing.contains(document.activeElement)) {
            editing.addEventListener("focusout", later, { once: true });
            return;
          }
          this.deferred = false;
          this.renderOccupants();
        }, 100);
        editing.addEventListener("focusout", later, { once: true });
      }
      return;
    }
    const space = this.session?.space;
    if (!space || space.kind === "lobby" || space.space_id !== this.managed) {
      this.occupants.replaceChildren(el("p", { class: "hint" }, "Choose Manage on a space to see who is in it and act on them."));
      return;
    }
    const summary = this.session.spaces.get(space.space_id);
    const title = summary?.title || space.space_id;
    const others = space.occupants.filter((o) => o.participant_id !== this.session.me);
    const rows = others.map((o) => [
      o.display_name,
      o.role,
      space.kind === "stage" ? o.stage_role : "—",
      [o.published?.length ? `sending ${o.published.join(", ")}` : "", o.hand_raised ? "hand raised" : "",
        o.connected ? "" : "reconnecting", space.spotlight === o.participant_id ? "spotlit" : ""].filter(Boolean).join(" · "),
      el("span", { class: "row-actions" }, ...this.controlsFor(space, o)),
    ]);
    this.occupants.replaceChildren(
      el("h3", { id: "managed-title" }, `In ${title}`),
      table(`Participants in ${title}`, ["Name", "Role", "Stage", "Status", ""], rows, "occupants"),
      ...this.breakoutControls(space, others),
    );
  }

  /** After a form did its job: leave it, and show what changed. */
  settle() {
    document.activeElement?.blur?.();
    this.deferred = false;
    this.renderOccupants();
  }

  controlsFor(space, o) {
    const who = o.display_name;
    const target = { participant_id: o.participant_id };
    const inSpace = { space_id: space.space_id, ...target };
    const request = (name, payload) => () => this.session.request(name, payload);
    const buttons = [];
    const add = (label, aria, run) => buttons.push(action(label, run, this.onError, { "aria-label": `${aria} ${who}` }));
    if (space.kind === "stage") {
      if (o.stage_role === "audience") {
        add("Invite to stage", "Invite to the stage:", async () => {
          await this.session.request("promote", inSpace);
          await this.session.request("bring_live", inSpace);
        });
      }
      if (o.stage_role === "backstage") add("Bring live", "Bring live:", request("bring_live", inSpace));
      if (o.stage_role === "live") add("Send backstage", "Send backstage:", request("send_backstage", inSpace));
      if (o.stage_role === "live" || o.stage_role === "backstage") add("Back to audience", "Move to the audience:", request("demote", inSpace));
    }
    if (space.spotlight === o.participant_id) {
      add("Clear spotlight", "Clear the spotlight on", request("spotlight", { space_id: space.space_id, participant_id: null }));
    } else if (space.kind !== "stage" || o.stage_role === "live") {
      add("Spotlight", "Spotlight", request("spotlight", inSpace));
    }
    if (o.hand_raised) add("Lower hand", "Lower the hand of", request("lower_participant_hand", target));
    if (o.role !== "organiser") {
      add("Mute", "Mute", request("mute_participant", target));
      add("Remove", "Remove from the event:", request("remove_participant", { ...target, reason: "Removed by the organiser." }));
    }
    return buttons;
  }

  breakoutControls(space, others) {
    if (space.kind !== "room" && space.kind !== "stage") return [];
    const open = this.breakouts.has(space.space_id);
    if (open) {
      return [
        el("h3", {}, "Breakouts are open"),
        form("breakout-broadcast", [field("Message to every breakout room", { name: "text", required: true, maxlength: 1000 })],
          "Send to all breakouts", async (values, node) => {
            await this.session.request("broadcast_breakouts", { space_id: space.space_id, text: values.text });
            node.reset();
            this.console.say("Message sent to every breakout room.");
          }),
        action("Close breakouts and bring everyone back", () =>
          this.session.request("close_breakouts", { space_id: space.space_id }), this.onError, { id: "close-breakouts" }),
      ];
    }
    const people = others.filter((o) => o.role !== "organiser");
    const manual = people.map((o) => field(`Room for ${o.display_name}`, {
      name: `room:${o.participant_id}`, type: "number", min: 1, max: 200, value: 1,
    }));
    return [
      el("h3", {}, "Breakouts"),
      form("breakouts", [
        field("Assign", { name: "mode", options: [["by_team", "By hackathon team"], ["groups", "In groups of N"], ["manual", "By hand (room numbers below)"]] }),
        field("Group size (for groups of N)", { name: "group_size", type: "number", min: 1, max: 200, value: 2 }),
        el("fieldset", { class: "manual-rooms" }, el("legend", {}, "By hand"), ...manual),
      ], "Open breakouts", async (values) => {
        const payload = { space_id: space.space_id, mode: values.mode };
        if (values.mode === "groups") payload.group_size = Number(values.group_size);
        if (values.mode === "manual") {
          const rooms = new Map();
          for (const o of people) {
            const n = Number(values[`room:${o.participant_id}`]);
            if (!rooms.has(n)) rooms.set(n, []);
            rooms.get(n).push(o.participant_id);
          }
          payload.groups = [...rooms.keys()].sort((a, b) => a - b).map((n) => rooms.get(n));
        }
        await this.session.request("open_breakouts", payload);
        this.console.say("Breakouts are open.");
        this.settle();
      }),
    ];
  }

  close() {
    this.session?.close();
    this.session = null;
  }
}
