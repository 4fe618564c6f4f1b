// The participant's own controls in a space: microphone and camera (the same tracks as the
// device check, so M and V work here too), screen share, raise hand, reactions. Reactions from
// everyone arrive aggregated about once a second and are shown briefly.

import { el } from "../dom.js";
import { onShortcut } from "../shortcuts.js";

export const REACTIONS = [
  ["clap", "👏", "Clap"], ["heart", "❤️", "Heart"], ["laugh", "😂", "Laugh"],
  ["tada", "🎉", "Celebrate"], ["thumbs_up", "👍", "Thumbs up"], ["wow", "😮", "Wow"],
];
const EMOJI = Object.fromEntries(REACTIONS.map(([name, emoji]) => [name, emoji]));
const LABEL = Object.fromEntries(REACTIONS.map(([name, , label]) => [name, label]));

export class RoomControls {
  constructor(session, check, screen, onError) {
    this.session = session;
    this.check = check;
    this.screen = screen;
    this.onError = onError;
    this.mic = this.button("toggle-mic-room", "Mute (M)", () => this.check?.toggle("audio"));
    this.camera = this.button("toggle-camera-room", "Camera off (V)", () => this.check?.toggle("video"));
    this.share = this.button("toggle-screen", "Share screen (S)", () => this.toggleScreen());
    this.hand = this.button("toggle-hand", "Raise hand (H)", () => this.toggleHand());
    this.reactionButtons = REACTIONS.map(([name, emoji, label]) => {
      const button = el("button", { type: "button", class: "reaction", "data-reaction": name, "aria-label": `React: ${label}` },
        el("span", { "aria-hidden": "true" }, emoji), ` ${label}`);
      button.addEventListener("click", () => session.request("react", { reaction: name }).catch(onError));
      return button;
    });
    this.toolbar = el("div", { class: "room-controls", role: "toolbar", "aria-label": "Your controls" },
      this.mic, this.camera, this.share, this.hand,
      el("span", { class: "reaction-bar", role: "group", "aria-label": "Reactions" }, ...this.reactionButtons));
    this.shown = el("div", { id: "reactions", class: "reactions", "aria-live": "polite", "aria-label": "Reactions in this space" });
    this.fade = null;
    check?.toggleListeners.push((kind, enabled) => this.onToggle(kind, enabled));
    screen.addEventListener("change", () => this.render());
    session.on("presence", ({ name, data }) => {
      if (name === "reactions") this.showReactions(data);
      this.render();
    });
    session.on("space", () => this.render());
    onShortcut("s", () => this.toggleScreen());
    onShortcut("h", () => this.toggleHand());
    this.render();
  }

  button(id, label, run) {
    const button = el("button", { type: "button", id, "aria-pressed": "false" }, label);
    button.addEventListener("click", run);
    return button;
  }

  me() {
    return this.session.space?.occupants.find((o) => o.participant_id === this.session.me);
  }

  /** The server's view of our own mute state follows the local toggle. */
  onToggle(kind, enabled) {
    const name = kind === "audio" ? "microphone" : "camera";
    if (this.me()?.published.includes(name)) {
      this.session.request("set_muted", { kind: name, muted: !enabled }).catch(this.onError);
    }
    this.render();
  }

  async toggleScreen() {
    if (!this.session.space || this.session.space.kind === "lobby") return;
    try {
      if (this.screen.active) await this.screen.stop();
      else await this.screen.start();
    } catch (error) {
      this.onError(error);
    }
  }

  async toggleHand() {
    if (!this.session.space || this.session.space.kind === "lobby") return;
    const raised = this.me()?.hand_raised;
    await this.session.request(raised ? "lower_hand" : "raise_hand").catch(this.onError);
  }

  render() {
    const stream = this.check?.stream;
    const audio = stream?.getAudioTracks()[0];
    const video = stream?.getVideoTracks()[0];
    const may = this.session.space?.may_publish ?? [];
    this.mic.hidden = !may.includes("microphone");
    this.camera.hidden = !may.includes("camera");
    this.mic.setAttribute("aria-pressed", String(audio ? !audio.enabled : false));
    this.mic.textContent = audio && !audio.enabled ? "Unmute (M)" : "Mute (M)";
    this.camera.setAttribute("aria-pressed", String(video ? !video.enabled : false));
    this.camera.textContent = video && !video.enabled ? "Camera on (V)" : "Camera off (V)";
    this.share.hidden = !may.includes("screen") || !navigator.mediaDevices?.getDisplayMedia;
    this.share.setAttribute("aria-pressed", String(this.screen.active));
    this.share.textContent = this.screen.active ? "Stop sharing (S)" : "Share screen (S)";
    const raised = Boolean(this.me()?.hand_raised);
    this.hand.setAttribute("aria-pressed", String(raised));
    this.hand.textContent = raised ? "Lower hand (H)" : "Raise hand (H)";
  }

  showReactions(data) {
    const items = (data.counts ?? []).filter(([name, n]) => EMOJI[name] && n > 0);
    if (!items.length) return;
    this.shown.replaceChildren(...items.map(([name, n]) =>
      el("span", { class: "reaction-count", "data-reaction": name, "aria-label": `${LABEL[name]}: ${n}` }, `${EMOJI[name]} ${n}`)));
    clearTimeout(this.fade);
    this.fade = setTimeout(() => this.shown.replaceChildren(), 4000);
  }
}
