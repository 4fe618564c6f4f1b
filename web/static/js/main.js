// Entry point: shows the server's readiness and starts the first view (the device check).

import { $ } from "./dom.js";
import { DeviceCheck } from "./devices.js";

async function showServerStatus() {
  const out = $("#server-status");
  try {
    const response = await fetch("/readyz");
    const body = await response.json();
    out.textContent = body.status === "ready" ? "server ready" : `server ${body.status}`;
  } catch {
    out.textContent = "server unreachable";
  }
}

async function main() {
  showServerStatus();
  const view = $("#view-devices");
  view.hidden = false;
  const check = new DeviceCheck(view);
  window.venuekit = { deviceCheck: check };
  await check.start();
}

main();
