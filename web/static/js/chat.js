// The chat panel: the event's chat, history on open, live batches, and a gapless replay after a
// reconnect (the last id seen is sent back; messages are kept once by id). Text only, never HTML.

import { $, el } from "./dom.js";

/** Order of two message ids ("<ms>-<seq>", Redis stream ids). */
export function compareIds(a, b) {
  const [am, as] = a.split("-").map(Number);
  const [bm, bs] = b.split("-").map(Number);
  return am - bm || as - bs;
}

export class ChatPanel {
  constructor(root, session, channel = "event") {
    this.root = root;
    this.session = session;
    this.channel = channel;
    this.list = $("#chat-list", root);
    this.form = $("#chat-form", root);
    this.input = $("#chat-input", root);
    this.error = $("#chat-error", root);
    this.seen = new Set();
    this.lastId = null;
    session.on("chat_batch", (batch) => {
      if (batch.channel !== this.channel) return;
      if (!this.firstLive && batch.items.length) this.firstLive = batch.items[0].id;
      this.add(batch.items);
    });
    session.on("welcome", () => this.join());
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.send();
    });
  }

  async join() {
    try {
      this.firstLive = null;
      const payload = { channel: this.channel };
      if (this.lastId) payload.last_id = this.lastId;
      let page = await this.session.request("chat_join", payload);
      this.add(page.items);
      // a long absence replays in pages: continue from the end of the last page (live batches
      // may already have brought newer messages; the seen-set drops any overlap)
      while (page.mode !== "history" && page.more && page.items.length) {
        const after = page.items[page.items.length - 1].id;
        // once the replay reaches what arrived live, everything newer arrives live too
        if (this.firstLive && compareIds(after, this.firstLive) >= 0) break;
        page = await this.session.request("chat_replay", { channel: this.channel, after });
        this.add(page.items);
      }
    } catch (error) {
      this.showError(error);
    }
  }

  add(items) {
    for (const item of items) {
      if (this.seen.has(item.id)) continue;
      this.seen.add(item.id);
      if (!this.lastId || compareIds(item.id, this.lastId) > 0) this.lastId = item.id;
      if (item.type === "message") {
        const row = el("li", { "data-id": item.id },
          el("strong", {}, item.sender.name), ": ", el("span", { class: "chat-text" }, item.text));
        this.list.append(row);
      } else if (item.type === "deleted") {
        this.list.querySelector(`[data-id="${CSS.escape(item.target_id)}"]`)?.remove();
      }
    }
    this.list.scrollTop = this.list.scrollHeight;
  }

  async send() {
    const text = this.input.value;
    if (!text.trim()) return;
    try {
      const message = await this.session.request("chat_send", { channel: this.channel, text });
      this.input.value = "";
      this.error.hidden = true;
      this.add([message]);
    } catch (error) {
      this.showError(error);
    }
  }

  showError(error) {
    this.error.textContent = error.message;
    this.error.hidden = false;
  }
}
