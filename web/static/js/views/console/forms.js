// Small builders for the console's forms and tables: every label tied to its field, values
// from the server set as text or as input values, never as HTML.

import { el } from "../../dom.js";

let counter = 0;

/** A labelled input; ``attrs`` go on the input (name, type, required, min...). */
export function field(label, attrs) {
  const id = `f${++counter}-${attrs.name}`;
  const input = attrs.options
    ? el("select", { id, name: attrs.name }, ...attrs.options.map(([value, text]) => el("option", { value }, text)))
    : el("input", { id, ...attrs });
  if (attrs.value !== undefined) input.value = attrs.value;
  return el("div", { class: "field" }, el("label", { for: id }, label), input);
}

/** A form whose submit runs ``onSubmit(values)``; errors show in the form's own alert line. */
export function form(name, fields, submitLabel, onSubmit) {
  const error = el("p", { class: "error", role: "alert" });
  error.hidden = true;
  const button = el("button", { type: "submit" }, submitLabel);
  const node = el("form", { class: "console-form", "data-form": name }, ...fields, button, error);
  node.addEventListener("submit", async (event) => {
    event.preventDefault();
    const values = Object.fromEntries(new FormData(node).entries());
    button.disabled = true;
    try {
      await onSubmit(values, node);
      error.hidden = true;
    } catch (failure) {
      error.textContent = failure.message;
      error.hidden = false;
    } finally {
      button.disabled = false;
    }
  });
  return node;
}

/** A table with a caption; ``rows`` are arrays of cells (text or nodes). */
export function table(caption, headings, rows, name) {
  return el("table", { class: "console-table", "data-table": name },
    el("caption", {}, caption),
    el("thead", {}, el("tr", {}, ...headings.map((h) => el("th", { scope: "col" }, h)))),
    el("tbody", {}, ...rows.map((cells) => el("tr", {}, ...cells.map((c) => el("td", {}, c))))));
}

/** A button that runs ``run`` and reports a refusal through ``onError``. */
export function action(label, run, onError, attrs = {}) {
  const button = el("button", { type: "button", class: "console-action", ...attrs }, label);
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      await run();
    } catch (error) {
      onError(error);
    } finally {
      button.disabled = false;
    }
  });
  return button;
}

/** ``2030-05-01T09:00:00+02:00`` -> the value of a datetime-local input, in this browser's zone. */
export function toLocalInput(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  const local = new Date(date.getTime() - date.getTimezoneOffset() * 60000);
  return local.toISOString().slice(0, 16);
}

/** A datetime-local value -> RFC 3339 with an offset (UTC), as the API requires. */
export function fromLocalInput(value) {
  return new Date(value).toISOString().replace(/\.\d{3}Z$/, "Z");
}

export function money(minor, currency) {
  return `${(minor / 100).toFixed(2)} ${currency}`;
}
