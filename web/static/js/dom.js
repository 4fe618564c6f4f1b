// DOM helpers. Text from the server or other people is only ever set as text, never as HTML.

export function $(selector, root = document) {
  const found = root.querySelector(selector);
  if (!found) throw new Error(`missing element ${selector}`);
  return found;
}

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === false || value == null) continue;
    node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children) {
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function toast(message, timeoutMs = 6000) {
  const box = el("div", { class: "toast", role: "status" }, message);
  $("#toasts").append(box);
  setTimeout(() => box.remove(), timeoutMs);
}
