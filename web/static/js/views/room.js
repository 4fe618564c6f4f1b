// A space (room, stage, team room): who is here, their video, your own controls.

import { $, el } from "../dom.js";

export class RoomView {
  constructor(root, session, media, onError = () => {}) {
    this.onError = onError;
    this.root = root;
    this.session = session;
    this.media = media;
    this.grid = $("#video-grid", root);
    this.title = $("#room-title", root);
    this.people = $("#people", root);
    this.tiles = new Map(); // participant_id -> {tile, video}
    this.bar = $("#organiser-bar", root);
    this.openBreakouts = new Set(); // origin space ids with breakouts open
    session.on("breakouts_opened", (data) => {
      this.openBreakouts.add(data.origin_space_id);
      this.renderBar();
    });
    session.on("breakouts_closed", (data) => {
      this.openBreakouts.delete(data.origin_space_id);
      this.renderBar();
    });
    session.on("space", (space) => this.renderSpace(space));
    session.on("presence", () => this.renderPeople());
    media.addEventListener("track", (event) => this.attach(event.detail));
  }

  tileFor(participantId, name) {
    let entry = this.tiles.get(participantId);
    if (!entry) {
      const video = el("video", { autoplay: true, playsinline: true, "data-participant": participantId });
      video.muted = participantId === this.session.me;
      const label = el("span", { class: "tile-name" }, name ?? participantId);
      const tile = el("figure", { class: "tile" }, video, label);
      this.grid.append(tile);
      entry = { tile, video, label, stream: new MediaStream() };
      video.srcObject = entry.stream;
      this.tiles.set(participantId, entry);
    }
    return entry;
  }

  showLocal(stream) {
    const me = this.session.me;
    const entry = this.tileFor(me, "You");
    entry.video.srcObject = stream;
    entry.tile.classList.add("local");
  }

  attach({ info, track }) {
    const who = info?.participant_id ?? "unknown";
    const occupant = this.session.space?.occupants.find((o) => o.participant_id === who);
    const entry = this.tileFor(who, occupant?.display_name);
    entry.stream.addTrack(track);
    track.addEventListener("ended", () => entry.stream.removeTrack(track));
    entry.video.play().catch(() => {});
  }

  renderSpace(space) {
    const summary = this.session.spaces.get(space.space_id);
    this.title.textContent = summary?.title || space.space_id;
    for (const { tile } of this.tiles.values()) tile.remove();
    this.tiles.clear();
    this.renderPeople();
  }

  amOrganiser() {
    const me = this.session.space?.occupants.find((o) => o.participant_id === this.session.me);
    return me?.role === "organiser";
  }

  /** The organiser's live controls for one occupant (only ever shown to organisers; the server
   * refuses these events from anyone else anyway). */
  controlsFor(space, occupant) {
    if (!this.amOrganiser() || occupant.participant_id === this.session.me) return [];
    const who = occupant.display_name;
    const target = { participant_id: occupant.participant_id };
    const action = (label, aria, run) => {
      const button = el("button", { type: "button", class: "organiser-action", "aria-label": `${aria} ${who}` }, label);
      button.addEventListener("click", () => run().catch((error) => this.onError(error)));
      return button;
    };
    const inSpace = { space_id: space.space_id, ...target };
    const buttons = [];
    if (space.kind === "stage" && occupant.stage_role === "audience") {
      buttons.push(action("Invite to stage", "Invite to the stage:", async () => {
        await this.session.request("promote", inSpace);
        await this.session.request("bring_live", inSpace);
      }));
    }
    if (space.kind === "stage" && (occupant.stage_role === "live" || occupant.stage_role === "backstage")) {
      buttons.push(action("Back to audience", "Move to the audience:", () => this.session.request("demote", inSpace)));
    }
    buttons.push(action("Mute", "Mute", () => this.session.request("mute_participant", target)));
    buttons.push(action("Remove", "Remove from the event:", () => this.session.request("remove_participant", target)));
    return buttons;
  }

  /** Space-wide organiser controls: breakouts by team, open and close. */
  renderBar() {
    const space = this.session.space;
    const buttons = [];
    if (space && this.amOrganiser() && (space.kind === "room" || space.kind === "stage")) {
      const open = this.openBreakouts.has(space.space_id);
      const label = open ? "Close breakouts" : "Open breakouts by team";
      const button = el("button", { type: "button", class: "organiser-action", id: "toggle-breakouts" }, label);
      button.addEventListener("click", () => {
        const request = open
          ? this.session.request("close_breakouts", { space_id: space.space_id })
          : this.session.request("open_breakouts", { space_id: space.space_id, mode: "by_team" });
        request.catch((error) => this.onError(error));
      });
      buttons.push(button);
    }
    this.bar.replaceChildren(...buttons);
  }

  renderPeople() {
    const space = this.session.space;
    if (!space) return;
    this.renderBar();
    this.people.replaceChildren(
      ...space.occupants.map((o) => el("li", { class: o.participant_id === space.active_speaker ? "speaking" : "" },
        o.display_name, o.role === "organiser" ? " (organiser)" : "",
        space.kind === "stage" && o.stage_role !== "none" ? ` · ${o.stage_role}` : "",
        o.hand_raised ? " ✋" : "", o.connected ? "" : " (reconnecting)", " ",
        ...this.controlsFor(space, o))),
    );
    for (const o of space.occupants) {
      const entry = this.tiles.get(o.participant_id);
      if (entry && o.participant_id !== this.session.me) entry.label.textContent = o.display_name;
      entry?.tile.classList.toggle("speaking", o.participant_id === space.active_speaker);
    }
  }
}
