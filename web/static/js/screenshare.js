// Screen share: a third sending track on the publishing peer connection. The venue is asked
// first (`publish {kind: "screen"}`), then the connection is offered again with the screen's
// m-section labelled "screen"; stopping sets it inactive, offers again and unpublishes.

const KIND_OF_TRACK = { audio: "microphone", video: "camera" };

function gathered(pc) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      if (pc.iceGatheringState !== "complete") return;
      pc.removeEventListener("icegatheringstatechange", done);
      resolve();
    };
    pc.addEventListener("icegatheringstatechange", done);
    setTimeout(resolve, 3000);
  });
}

export class ScreenShare extends EventTarget {
  constructor(session, media) {
    super();
    this.session = session;
    this.media = media;
    this.track = null;
    this.transceiver = null;
    this.pc = null;
    // moving to another space closes the peer connections: the share ends with them
    session.on("space", () => this.forget());
    media.addEventListener("reset", () => this.forget());
  }

  get active() {
    return this.track !== null;
  }

  async start() {
    if (this.track) return;
    await this.session.request("publish", { kind: "screen" }).catch((error) => {
      if (error.code !== "already_published") throw error;
    });
    const display = await navigator.mediaDevices.getDisplayMedia({ video: true, audio: false });
    const [track] = display.getVideoTracks();
    track.addEventListener("ended", () => this.stop().catch(() => {}));
    if (!this.media.pub) this.media.pub = new RTCPeerConnection();
    const pc = this.media.pub;
    if (this.pc === pc && this.transceiver) {
      await this.transceiver.sender.replaceTrack(track);
      this.transceiver.direction = "sendonly";
    } else {
      this.transceiver = pc.addTransceiver(track, { direction: "sendonly", streams: [display] });
      this.pc = pc;
    }
    this.track = track;
    try {
      await this.renegotiate(pc);
    } catch (error) {
      this.forget();
      throw error;
    }
    this.changed();
    return display;
  }

  async stop() {
    if (!this.track) return;
    const pc = this.pc;
    this.track.stop();
    this.track = null;
    if (pc && pc.signalingState !== "closed" && this.transceiver) {
      await this.transceiver.sender.replaceTrack(null);
      this.transceiver.direction = "inactive";
      await this.renegotiate(pc);
    }
    await this.session.request("unpublish", { kind: "screen" }).catch(() => {});
    this.changed();
  }

  async renegotiate(pc) {
    await pc.setLocalDescription(await pc.createOffer());
    await gathered(pc);
    const kinds = {};
    for (const t of pc.getTransceivers()) {
      const sending = t.direction === "sendonly" || t.direction === "sendrecv";
      if (!t.mid || !sending || !t.sender.track) continue;
      kinds[t.mid] = t === this.transceiver ? "screen" : KIND_OF_TRACK[t.sender.track.kind];
    }
    const answer = await this.session.request("media_publish", { sdp: pc.localDescription.sdp, kinds });
    await pc.setRemoteDescription({ type: "answer", sdp: answer.sdp });
  }

  forget() {
    const was = this.track !== null;
    this.track?.stop();
    this.track = null;
    this.transceiver = null;
    this.pc = null;
    if (was) this.changed();
  }

  changed() {
    this.dispatchEvent(new Event("change"));
  }
}
