// Device check: camera and microphone preview, device choice (remembered), mute and camera toggles.

import { $, el } from "./dom.js";
import { describeError } from "./errors.js";
import { onShortcut } from "./shortcuts.js";

const STORAGE_KEY = "venuekit.devices";

export class DeviceCheck {
  constructor(root) {
    this.root = root;
    this.video = $("#preview", root);
    this.cameraSelect = $("#camera-select", root);
    this.micSelect = $("#microphone-select", root);
    this.meter = $("#mic-level", root);
    this.micButton = $("#toggle-mic", root);
    this.cameraButton = $("#toggle-camera", root);
    this.errorBox = $("#device-error", root);
    this.stream = null;
    this.audioContext = null;
    this.levelTimer = null;
    this.ready = false;
    this.toggleListeners = []; // (kind, enabled) after every mute or camera toggle, by button or key
  }

  async start() {
    const saved = JSON.parse(localStorage.getItem(STORAGE_KEY) ?? "{}");
    await this.open(saved.camera, saved.microphone);
    await this.fillSelects();
    this.cameraSelect.addEventListener("change", () => this.switchDevices());
    this.micSelect.addEventListener("change", () => this.switchDevices());
    this.micButton.addEventListener("click", () => this.toggle("audio"));
    this.cameraButton.addEventListener("click", () => this.toggle("video"));
    onShortcut("m", () => this.toggle("audio"));
    onShortcut("v", () => this.toggle("video"));
    this.ready = true;
  }

  async open(cameraId, microphoneId) {
    this.stop();
    try {
      this.stream = await navigator.mediaDevices.getUserMedia({
        video: cameraId ? { deviceId: { exact: cameraId } } : true,
        audio: microphoneId ? { deviceId: { exact: microphoneId } } : true,
      });
    } catch (error) {
      if (cameraId || microphoneId) return this.open(undefined, undefined);
      this.showError(error);
      return;
    }
    this.errorBox.hidden = true;
    this.video.srcObject = this.stream;
    this.watchLevel();
  }

  async fillSelects() {
    const devices = await navigator.mediaDevices.enumerateDevices();
    const current = (kind) => this.stream?.getTracks().find((t) => t.kind === kind)?.getSettings().deviceId;
    for (const [select, kind, label] of [
      [this.cameraSelect, "videoinput", "Camera"],
      [this.micSelect, "audioinput", "Microphone"],
    ]) {
      select.replaceChildren(
        ...devices
          .filter((d) => d.kind === kind)
          .map((d, i) => el("option", { value: d.deviceId }, d.label || `${label} ${i + 1}`)),
      );
      const active = current(kind === "videoinput" ? "video" : "audio");
      if (active) select.value = active;
    }
  }

  async switchDevices() {
    const choice = { camera: this.cameraSelect.value, microphone: this.micSelect.value };
    localStorage.setItem(STORAGE_KEY, JSON.stringify(choice));
    await this.open(choice.camera, choice.microphone);
  }

  toggle(kind) {
    const track = this.stream?.getTracks().find((t) => t.kind === kind);
    if (!track) return;
    track.enabled = !track.enabled;
    const button = kind === "audio" ? this.micButton : this.cameraButton;
    button.setAttribute("aria-pressed", String(!track.enabled));
    if (kind === "audio") button.textContent = track.enabled ? "Mute (M)" : "Unmute (M)";
    else button.textContent = track.enabled ? "Camera off (V)" : "Camera on (V)";
    for (const listener of this.toggleListeners) listener(kind, track.enabled);
  }

  watchLevel() {
    const [audio] = this.stream.getAudioTracks();
    if (!audio) return;
    this.audioContext = new AudioContext();
    const analyser = this.audioContext.createAnalyser();
    analyser.fftSize = 512;
    this.audioContext.createMediaStreamSource(new MediaStream([audio])).connect(analyser);
    const samples = new Float32Array(analyser.fftSize);
    this.levelTimer = setInterval(() => {
      analyser.getFloatTimeDomainData(samples);
      let sum = 0;
      for (const s of samples) sum += s * s;
      this.meter.value = audio.enabled ? Math.min(1, Math.sqrt(sum / samples.length) * 4) : 0;
    }, 100);
  }

  showError(error) {
    this.errorBox.textContent = describeError(error);
    this.errorBox.hidden = false;
  }

  stop() {
    clearInterval(this.levelTimer);
    this.audioContext?.close();
    this.audioContext = null;
    for (const track of this.stream?.getTracks() ?? []) track.stop();
    this.stream = null;
  }
}
