// Keyboard shortcuts for the whole app; ignored while the user types in a field.

const handlers = new Map();

export function onShortcut(key, handler) {
  handlers.set(key.toLowerCase(), handler);
}

document.addEventListener("keydown", (event) => {
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  const target = event.target;
  if (target instanceof HTMLElement && target.closest("input, textarea, [contenteditable]")) return;
  const handler = handlers.get(event.key.toLowerCase());
  if (handler) {
    event.preventDefault();
    handler();
  }
});
