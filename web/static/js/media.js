// WebRTC with the media node: one peer connection to publish, one to receive.
// The server offers on the receiving one (media_offer); the browser offers on the sending one.

const KIND_OF_TRACK = { audio: "microphone", video: "camera" };

function iceGathered(pc) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      if (pc.iceGatheringState === "complete") {
        pc.removeEventListener("icegatheringstatechange", done);
        resolve();
      }
    };
    pc.addEventListener("icegatheringstatechange", done);
    setTimeout(resolve, 3000); // send what we have; the node also accepts what arrives late
  });
}

export class MediaSession extends EventTarget {
  constructor(session) {
    super();
    this.session = session;
    this.pub = null;
    this.sub = null;
    this.tracksByMid = new Map();
    this.stream = null;
    this.queue = Promise.resolve();
    session.on("media_offer", (offer) => {
      this.queue = this.queue.then(() => this.answer(offer)).catch((err) => this.fail(err));
    });
    // The space moved to another media node (its node died): start both connections afresh.
    // Offers from the new node arrive after this event, so they queue behind the republish.
    session.on("media_reset", () => {
      this.queue = this.queue.then(() => this.renegotiate()).catch((err) => this.fail(err));
    });
  }

  async renegotiate() {
    const stream = this.pub ? this.stream : null;
    this.reset();
    this.dispatchEvent(new CustomEvent("reset"));
    if (stream) await this.publish(stream);
  }

  fail(error) {
    this.dispatchEvent(new CustomEvent("error", { detail: error }));
  }

  async publish(stream) {
    const pc = new RTCPeerConnection();
    this.pub = pc;
    this.stream = stream;
    const labels = new Map();
    for (const track of stream.getTracks()) {
      const transceiver = pc.addTransceiver(track, { direction: "sendonly", streams: [stream] });
      labels.set(transceiver, KIND_OF_TRACK[track.kind]);
    }
    await pc.setLocalDescription(await pc.createOffer());
    await iceGathered(pc);
    const kinds = {};
    for (const [transceiver, kind] of labels) kinds[transceiver.mid] = kind;
    const answer = await this.session.request("media_publish", { sdp: pc.localDescription.sdp, kinds });
    await pc.setRemoteDescription({ type: "answer", sdp: answer.sdp });
    return answer.tracks;
  }

  async answer(offer) {
    if (!this.sub) {
      this.sub = new RTCPeerConnection();
      this.sub.addEventListener("track", (event) => {
        const info = this.tracksByMid.get(event.transceiver.mid);
        const stream = event.streams[0] ?? new MediaStream([event.track]);
        this.dispatchEvent(new CustomEvent("track", { detail: { info, track: event.track, stream } }));
      });
    }
    for (const t of offer.tracks) this.tracksByMid.set(t.mid, t);
    await this.sub.setRemoteDescription({ type: "offer", sdp: offer.sdp });
    await this.sub.setLocalDescription(await this.sub.createAnswer());
    await iceGathered(this.sub);
    await this.session.request("media_answer", { sdp: this.sub.localDescription.sdp });
  }

  /** Drop both peer connections (on leaving a space); offers for the next space start afresh. */
  reset() {
    this.pub?.close();
    this.sub?.close();
    this.pub = null;
    this.sub = null;
    this.tracksByMid.clear();
  }
}
