// One participant's connection to the venue: the Socket.IO socket, requests with
// acknowledgements, and the venue state the server pushes (venue map, current space).

import { io } from "/static/vendor/socket.io/socket.io.esm.min.js";

export class VenueError extends Error {
  constructor(error) {
    super(error?.message ?? "request failed");
    this.code = error?.code ?? "unknown";
    this.data = error;
  }
}

export class Session extends EventTarget {
  /** ``tokenSource``: an async function that returns a fresh join token (they last minutes). */
  constructor(tokenSource, token) {
    super();
    this.tokenSource = tokenSource;
    this.token = token;
    this.me = null;
    this.spaces = new Map(); // space_id -> summary (count, title, kind...)
    this.space = null; // the latest space_snapshot
    this.socket = io({ auth: { token }, transports: ["websocket"], reconnectionDelayMax: 5000 });
    this.socket.on("connect", () => this.emit("status", { state: "connected" }));
    this.socket.on("disconnect", (reason) => this.emit("status", { state: "reconnecting", reason }));
    this.socket.io.on("reconnect_attempt", () => this.emit("status", { state: "reconnecting" }));
    this.socket.on("connect_error", async (err) => {
      const error = new VenueError(err.data ?? { code: "connect_failed", message: err.message });
      if (error.code === "token_expired" && this.tokenSource) {
        // a refused socket does not retry by itself: fetch a fresh token and connect again
        try {
          this.token = await this.tokenSource();
          this.socket.auth = { token: this.token };
          this.socket.connect();
          return;
        } catch (refresh) {
          this.emit("refused", refresh);
          return;
        }
      }
      if (err.data) this.emit("refused", error); // otherwise the client retries on its own
    });
    this.socket.on("welcome", (data) => {
      this.me = data.participant_id;
      this.spaces = new Map(data.spaces.map((s) => [s.space_id, s]));
      this.emit("welcome", data);
    });
    this.socket.on("venue", (data) => {  // the organiser added, changed or removed spaces
      this.spaces = new Map(data.spaces.map((s) => [s.space_id, s]));
      this.emit("venue", data);
    });
    this.socket.on("space_snapshot", (data) => {
      this.space = data;
      this.emit("space", data);
    });
    this.socket.on("space_count", (data) => {
      const known = this.spaces.get(data.space_id);
      if (known) known.count = data.count;
      this.emit("counts", data);
    });
    const presence = ["presence_joined", "presence_left", "presence_updated", "active_speaker",
      "spotlight", "space_lock", "reactions", "permissions"];
    for (const name of presence) this.socket.on(name, (data) => this.onPresence(name, data));
    for (const name of ["removed", "event_ended", "space_ended", "breakout_broadcast", "error",
      "media_offer", "media_reset", "chat_batch", "breakouts_opened", "breakouts_closed"]) {
      this.socket.on(name, (data) => this.emit(name, data));
    }
  }

  onPresence(name, data) {
    const space = this.space;
    if (space && data.space_id === space.space_id) {
      if (name === "presence_joined" || name === "presence_updated") {
        const others = space.occupants.filter((o) => o.participant_id !== data.entry.participant_id);
        space.occupants = [...others, data.entry];
      } else if (name === "presence_left") {
        space.occupants = space.occupants.filter((o) => o.participant_id !== data.participant_id);
      } else if (name === "active_speaker") {
        space.active_speaker = data.participant_id;
      } else if (name === "permissions") {
        space.may_publish = data.may_publish;
      } else if (name === "spotlight") {
        space.spotlight = data.participant_id;
      } else if (name === "space_lock") {
        space.locked = data.locked;
      }
    }
    this.emit("presence", { name, data });
  }

  /** The hackathon teams the join token grants (its payload is readable; the server checks it). */
  teams() {
    try {
      const payload = this.token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
      return JSON.parse(atob(payload)).teams ?? [];
    } catch {
      return [];
    }
  }

  emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  on(type, handler) {
    this.addEventListener(type, (event) => handler(event.detail));
  }

  async request(name, payload = {}) {
    const reply = await this.socket.timeout(15000).emitWithAck(name, payload);
    if (!reply.ok) throw new VenueError(reply.error);
    return reply.data;
  }

  close() {
    this.socket.close();
  }
}
