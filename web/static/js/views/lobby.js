// The lobby: the event's spaces with live participant counts (Enter moves you into one), and
// the agenda next to them with the session happening now marked.

import { $, el } from "../dom.js";
import { memberAgenda, publicEvent } from "../api.js";
import { renderAgenda } from "../agenda.js";

const AGENDA_REFRESH_MS = 30_000;

const KIND_LABEL = { stage: "Stage", room: "Room", team_room: "Team room", breakout: "Breakout" };

export class LobbyView {
  constructor(root, session, onEnter) {
    this.root = root;
    this.session = session;
    this.onEnter = onEnter;
    this.list = $("#space-list", root);
    session.on("welcome", () => {
      this.render();
      if (this.agenda.length) this.renderAgenda();
    });
    session.on("counts", () => this.render());
    session.on("venue", () => this.render());
    this.agenda = [];
    this.agendaList = $("#lobby-agenda", root);
  }

  /** The agenda of the event: the public one, or a member's (an organiser in a draft event). */
  async loadAgenda(org, event) {
    try {
      this.agenda = (await publicEvent(org, event)).agenda;
    } catch {
      try {
        this.agenda = await memberAgenda(org, event); // stage names come from the venue map
      } catch {
        this.agendaList.replaceChildren(el("li", { class: "agenda-empty" }, "The agenda is not available."));
        return;
      }
    }
    this.renderAgenda();
    clearInterval(this.agendaTimer);
    this.agendaTimer = setInterval(() => this.renderAgenda(), AGENDA_REFRESH_MS); // "now" moves on
  }

  renderAgenda() {
    const named = this.agenda.map((item) =>
      item.space_name ? item : { ...item, space_name: this.session.spaces.get(item.space_id)?.title ?? "" });
    renderAgenda(this.agendaList, named);
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
