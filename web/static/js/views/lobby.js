// The lobby: the event's spaces with live participant counts; Enter moves you into one.

import { $, el } from "../dom.js";

const KIND_LABEL = { stage: "Stage", room: "Room", team_room: "Team room", breakout: "Breakout" };

export class LobbyView {
  constructor(root, session, onEnter) {
    this.root = root;
    this.session = session;
    this.onEnter = onEnter;
    this.list = $("#space-list", root);
    session.on("welcome", () => this.render());
    session.on("counts", () => this.render());
    session.on("venue", () => this.render());
  }

  render() {
    const items = [...this.session.spaces.values()].filter((s) => s.kind !== "lobby" && !s.ended);
    this.list.replaceChildren(
      ...items.map((space) => {
        const button = el("button", { type: "button", "data-space": space.space_id },
          space.locked ? "Locked" : "Enter");
        button.disabled = space.locked;
        button.addEventListener("click", () => this.onEnter(space.space_id));
        return el("li", { class: "space" },
          el("span", { class: "space-title" }, space.title || space.space_id),
          el("span", { class: "space-kind" }, KIND_LABEL[space.kind] ?? space.kind),
          el("span", { class: "space-count", "aria-label": "participants" },
            `${space.count}${space.capacity ? ` / ${space.capacity}` : ""}`),
          button);
      }),
    );
  }
}
