// A space (room, stage, team room): who is here, their video, your own controls.
// Stage: live speakers' video large, the spotlit one larger, the active speaker highlighted.
// The grid shows at most PAGE_SIZE videos at once; the others are detached from their video
// elements (nothing rendered or played for them) and paused at the media node (media_pause:
// nothing is sent for them) until their page is shown.

import { $, el } from "../dom.js";
import { RoomControls } from "./controls.js";

export const PAGE_SIZE = 9;

export class RoomView {
  constructor(root, session, media, onError = () => {}, { check = null, screen = null } = {}) {
    this.onError = onError;
    this.root = root;
    this.session = session;
    this.media = media;
    this.grid = $("#video-grid", root);
    this.title = $("#room-title", root);
    this.people = $("#people", root);
    this.tiles = new Map(); // tile key (participant id, or "<id>:screen") -> {tile, video, label, stream}
    this.page = 0;
    this.firstFrameAt = null; // performance.now() of the first remote frame decoded in this space
    this.bar = $("#organiser-bar", root);
    this.pager = el("nav", { class: "pager", "aria-label": "Video pages" });
    this.pager.hidden = true;
    this.grid.after(this.pager);
    if (screen) {
      this.controls = new RoomControls(session, check, screen, onError);
      this.grid.before(this.controls.toolbar, this.controls.shown);
    }
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
    session.on("media_offer", (offer) => this.dropStaleScreens(offer));
    media.addEventListener("track", (event) => this.attach(event.detail));
  }

  tileFor(key, participantId, name, screen = false) {
    let entry = this.tiles.get(key);
    if (!entry) {
      const video = el("video", { autoplay: true, playsinline: true, "data-participant": participantId });
      if (screen) video.dataset.screen = "true";
      video.muted = participantId === this.session.me;
      const label = el("span", { class: "tile-name" }, name ?? participantId);
      const tile = el("figure", { class: screen ? "tile screen" : "tile", "data-tile": key }, video, label);
      this.grid.append(tile);
      entry = { tile, video, label, stream: new MediaStream(), participantId, screen };
      video.srcObject = entry.stream;
      if (participantId !== this.session.me) this.watchFirstFrame(video);
      this.tiles.set(key, entry);
    }
    return entry;
  }

  watchFirstFrame(video) {
    const seen = () => {
      this.firstFrameAt ??= performance.now();
    };
    if (video.requestVideoFrameCallback) video.requestVideoFrameCallback(seen);
    else video.addEventListener("loadeddata", seen, { once: true });
  }

  showLocal(stream) {
    const me = this.session.me;
    const entry = this.tileFor(me, me, "You");
    entry.video.srcObject = stream;
    entry.stream = stream;
    entry.tile.classList.add("local");
    this.layout();
  }

  attach({ info, track }) {
    const who = info?.participant_id ?? "unknown";
    const screen = info?.kind === "screen";
    const occupant = this.session.space?.occupants.find((o) => o.participant_id === who);
    const name = occupant?.display_name ?? who;
    const entry = this.tileFor(screen ? `${who}:screen` : who, who, screen ? `${name}'s screen` : name, screen);
    entry.stream.addTrack(track);
    track.addEventListener("ended", () => entry.stream.removeTrack(track));
    if (track.kind === "video" && info?.track_id && entry.videoTrack !== info.track_id) {
      entry.videoTrack = info.track_id; // a new subscription: the node sends it until told otherwise
      entry.paused = false;
    }
    this.layout();
  }

  /** A screen share that is no longer in the node's offer is over: drop its tile. */
  dropStaleScreens(offer) {
    const sharing = new Set((offer.tracks ?? []).filter((t) => t.kind === "screen").map((t) => `${t.participant_id}:screen`));
    for (const [key, entry] of this.tiles) {
      if (entry.screen && !sharing.has(key)) {
        entry.tile.remove();
        this.tiles.delete(key);
      }
    }
    this.layout();
  }

  renderSpace(space) {
    const summary = this.session.spaces.get(space.space_id);
    this.title.textContent = summary?.title || space.space_id;
    for (const { tile } of this.tiles.values()) tile.remove();
    this.tiles.clear();
    this.page = 0;
    this.firstFrameAt = null;
    this.grid.classList.toggle("stage", space.kind === "stage");
    this.renderPeople();
  }

  /** Order (screens, spotlight, active speaker, live speakers, the rest), page, and classes. */
  layout() {
    const space = this.session.space;
    if (!space) return;
    const byId = new Map(space.occupants.map((o) => [o.participant_id, o]));
    for (const [key, entry] of this.tiles) {
      // a share ends when its sender unpublishes it (or leaves)
      if (entry.screen && !byId.get(entry.participantId)?.published?.includes("screen")) {
        entry.tile.remove();
        this.tiles.delete(key);
      }
    }
    const rank = (entry) => {
      const o = byId.get(entry.participantId);
      if (entry.screen) return 0;
      if (space.spotlight === entry.participantId) return 1;
      if (space.active_speaker === entry.participantId) return 2;
      if (o?.stage_role === "live") return 3;
      return 4;
    };
    const entries = [...this.tiles.values()].sort((a, b) => rank(a) - rank(b));
    const pages = Math.max(1, Math.ceil(entries.length / PAGE_SIZE));
    this.page = Math.min(this.page, pages - 1);
    const pausing = { true: [], false: [] };
    entries.forEach((entry, index) => {
      const o = byId.get(entry.participantId);
      const visible = Math.floor(index / PAGE_SIZE) === this.page;
      entry.tile.hidden = !visible;
      if (entry.videoTrack && entry.paused !== !visible) {
        entry.paused = !visible;
        pausing[entry.paused].push(entry.videoTrack);
      }
      // off-page videos keep no media attached, so the browser renders nothing for them
      const wanted = visible ? entry.stream : null;
      if (entry.video.srcObject !== wanted) {
        entry.video.srcObject = wanted;
        if (visible) entry.video.play().catch(() => {});
      }
      entry.tile.style.order = String(index);
      entry.tile.classList.toggle("speaking", entry.participantId === space.active_speaker && !entry.screen);
      entry.tile.classList.toggle("spotlit", entry.participantId === space.spotlight && !entry.screen);
      entry.tile.classList.toggle("speaker", space.kind === "stage" && o?.stage_role === "live");
    });
    this.renderPager(entries.length, pages);
    this.pauseAtNode(pausing);
  }

  /** Tell the media node to stop (or start again) sending videos that left (or joined) the page. */
  pauseAtNode(pausing) {
    for (const paused of [true, false]) {
      const ids = pausing[paused];
      for (let i = 0; i < ids.length; i += 64) {
        this.session.request("media_pause", { track_ids: ids.slice(i, i + 64), paused })
          .catch(() => {}); // a track that ended meanwhile: nothing left to pause
      }
    }
  }

  renderPager(count, pages) {
    this.pager.hidden = pages <= 1;
    if (pages <= 1) return;
    const go = (page) => {
      this.page = page;
      this.layout();
    };
    const prev = el("button", { type: "button", id: "page-prev", "aria-label": "Previous videos" }, "‹ Previous");
    const next = el("button", { type: "button", id: "page-next", "aria-label": "Next videos" }, "Next ›");
    prev.disabled = this.page === 0;
    next.disabled = this.page >= pages - 1;
    prev.addEventListener("click", () => go(this.page - 1));
    next.addEventListener("click", () => go(this.page + 1));
    this.pager.replaceChildren(prev,
      el("span", { role: "status", id: "page-status" }, `Videos ${this.page * PAGE_SIZE + 1}–${Math.min(count, (this.page + 1) * PAGE_SIZE)} of ${count} (page ${this.page + 1} of ${pages})`),
      next);
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
    if (space.kind !== "stage" || occupant.stage_role === "live") {
      const lit = space.spotlight === occupant.participant_id;
      buttons.push(action(lit ? "Clear spotlight" : "Spotlight", lit ? "Clear the spotlight on" : "Spotlight",
        () => this.session.request("spotlight", { space_id: space.space_id, participant_id: lit ? null : occupant.participant_id })));
    }
    if (occupant.hand_raised) {
      buttons.push(action("Lower hand", "Lower the hand of", () => this.session.request("lower_participant_hand", target)));
    }
    buttons.push(action("Mute", "Mute", () => this.session.request("mute_participant", target)));
    buttons.push(action("Remove", "Remove from the event:", () => this.session.request("remove_participant", target)));
    return buttons;
  }

  /** Space-wide organiser controls: breakouts by team, open and close; the console. */
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
    if (space && this.amOrganiser()) {
      buttons.push(el("a", { href: "/#console", target: "_blank", rel: "noopener", class: "console-link" }, "Organiser console"));
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
        space.spotlight === o.participant_id ? " · spotlight" : "",
        o.muted?.includes("microphone") ? " · muted" : "",
        o.hand_raised ? " ✋ hand raised" : "", o.connected ? "" : " (reconnecting)", " ",
        ...this.controlsFor(space, o))),
    );
    for (const o of space.occupants) {
      const entry = this.tiles.get(o.participant_id);
      if (entry && o.participant_id !== this.session.me) entry.label.textContent = o.display_name;
      const screen = this.tiles.get(`${o.participant_id}:screen`);
      if (screen) screen.label.textContent = `${o.display_name}'s screen`;
    }
    this.layout();
  }
}
