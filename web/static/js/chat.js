// The chat panel: the event's chat, history on open, live batches, and a gapless replay after a
// reconnect (the last id seen is sent back; messages are kept once by id). Text only, never HTML.

import { $, el } from "./dom.js";
import { describeError } from "./errors.js";

/** Order of two message ids ("<ms>-<seq>", Redis stream ids). */
export function compareIds(a, b) {
  const [am, as] = a.split("-").map(Number);
  const [bm, bs] = b.split("-").map(Number);
  return am - bm || as - bs;
}

/** One channel: its own list, ids seen, and the gapless replay on (re)join. */
class ChatChannel {
  constructor(panel, name, label) {
    this.panel = panel;
    this.session = panel.session;
    this.name = name;
    this.unread = 0;
    this.seen = new Set();
    this.lastId = null;
    this.firstLive = null;
    this.badge = el("span", { class: "unread", "aria-label": "unread messages" }, "");
    this.tab = el("button", { type: "button", role: "tab", class: "chat-tab", "data-channel": name,
      "aria-selected": "false" }, label, " ", this.badge);
    this.tab.addEventListener("click", () => panel.activate(name));
    this.list = el("ol", { class: "chat-list", "data-channel": name, "aria-live": "polite" });
    this.list.hidden = true;
  }

  async join() {
    try {
      this.firstLive = null;
      const payload = { channel: this.name };
      if (this.lastId) payload.last_id = this.lastId;
      let page = await this.session.request("chat_join", payload);
      this.add(page.items, false);
      // a long absence replays in pages: continue from the end of the last page (live batches
      // may already have brought newer messages; the seen-set drops any overlap)
      while (page.mode !== "history" && page.more && page.items.length) {
        const after = page.items[page.items.length - 1].id;
        // once the replay reaches what arrived live, everything newer arrives live too
        if (this.firstLive && compareIds(after, this.firstLive) >= 0) break;
        page = await this.session.request("chat_replay", { channel: this.name, after });
        this.add(page.items, false);
      }
    } catch (error) {
      this.panel.showError(error);
    }
  }

  live(items) {
    if (!this.firstLive && items.length) this.firstLive = items[0].id;
    this.add(items, true);
  }

  add(items, countUnread) {
    for (const item of items) {
      if (this.seen.has(item.id)) continue;
      this.seen.add(item.id);
      if (!this.lastId || compareIds(item.id, this.lastId) > 0) this.lastId = item.id;
      if (item.type === "message") {
        const row = el("li", { "data-id": item.id },
          el("strong", {}, item.sender.name), ": ", el("span", { class: "chat-text" }, item.text));
        this.list.append(row);
        if (countUnread && this.panel.active !== this.name && item.sender.id !== this.session.me) {
          this.unread += 1;
        }
      } else if (item.type === "deleted") {
        this.list.querySelector(`[data-id="${CSS.escape(item.target_id)}"]`)?.remove();
      }
    }
    this.badge.textContent = this.unread ? String(this.unread) : "";
    this.list.scrollTop = this.list.scrollHeight;
  }
}

/** The chat panel: the event chat, the current space's chat and the participant's team chats. */
export class ChatPanel {
  constructor(root, session) {
    this.root = root;
    this.session = session;
    this.tabs = $("#chat-tabs", root);
    this.lists = $("#chat-list", root);
    this.form = $("#chat-form", root);
    this.input = $("#chat-input", root);
    this.error = $("#chat-error", root);
    this.channels = new Map();
    this.active = null;
    this.spaceChannel = null;
    this.ensure("event", "Event");
    this.activate("event");
    session.on("chat_batch", (batch) => this.channels.get(batch.channel)?.live(batch.items));
    session.on("welcome", () => {
      for (const team of session.teams()) this.ensure(`team:${team}`, "Team");
      for (const channel of this.channels.values()) channel.join();
    });
    session.on("space", (space) => this.followSpace(space));
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.send();
    });
  }

  ensure(name, label) {
    let channel = this.channels.get(name);
    if (!channel) {
      channel = new ChatChannel(this, name, label);
      this.channels.set(name, channel);
      this.tabs.append(channel.tab);
      this.lists.append(channel.list);
    }
    return channel;
  }

  activate(name) {
    this.active = name;
    for (const channel of this.channels.values()) {
      const on = channel.name === name;
      channel.list.hidden = !on;
      channel.tab.setAttribute("aria-selected", String(on));
      if (on) {
        channel.unread = 0;
        channel.badge.textContent = "";
      }
    }
  }

  followSpace(space) {
    const wanted = space.kind === "lobby" ? null : `space:${space.space_id}`;
    if (wanted === this.spaceChannel) return;
    if (this.spaceChannel) {
      const old = this.channels.get(this.spaceChannel);
      this.session.request("chat_leave", { channel: this.spaceChannel }).catch(() => {});
      old?.tab.remove();
      old?.list.remove();
      this.channels.delete(this.spaceChannel);
      if (this.active === this.spaceChannel) this.activate("event");
    }
    this.spaceChannel = wanted;
    if (wanted) this.ensure(wanted, "This space").join();
  }

  async send() {
    const text = this.input.value;
    if (!text.trim()) return;
    const channel = this.channels.get(this.active);
    try {
      const message = await this.session.request("chat_send", { channel: this.active, text });
      this.input.value = "";
      this.error.hidden = true;
      channel?.add([message], false);
    } catch (error) {
      this.showError(error);
    }
  }

  showError(error) {
    this.error.textContent = describeError(error);
    this.error.hidden = false;
  }
}
