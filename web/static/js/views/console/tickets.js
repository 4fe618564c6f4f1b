// Ticket types (create, edit quota, name, window and order limit) and the event's orders, with
// the payment actions the API allows: mark paid, cancel, refund.

import { el } from "../../dom.js";
import { api } from "./rest.js";
import { action, field, form, fromLocalInput, money, table, toLocalInput } from "./forms.js";

const ORDER_ACTIONS = {
  pending: [["pay", "Mark paid"], ["cancel", "Cancel"]],
  paid: [["refund", "Refund"], ["cancel", "Cancel"]],
};

export class TicketsPanel {
  constructor(console) {
    this.console = console;
    this.root = el("section", { class: "console-panel", "aria-labelledby": "tickets-title" });
    this.editing = null; // the ticket type being edited, or null for "new"
  }

  get org() { return this.console.org; }
  get eventId() { return this.console.event.id; }

  async render() {
    const [types, orders] = await Promise.all([
      api.ticketTypes(this.org, this.eventId),
      api.orders(this.org, this.eventId),
    ]);
    this.types = types;
    const onError = (error) => this.console.report(error);
    const typeName = new Map(types.map((t) => [t.id, t.name]));
    const now = new Date();
    const inAYear = new Date(now.getTime() + 365 * 86400000);
    const current = this.editing;
    const typeForm = current
      ? form("ticket-type-edit", [
        field("Ticket name", { name: "name", required: true, maxlength: 200, value: current.name }),
        field("Quota", { name: "quota", type: "number", min: 0, max: 1000000, required: true, value: current.quota }),
        field("Per order, at most", { name: "per_order_max", type: "number", min: 1, max: 100, required: true, value: current.per_order_max }),
        field("Sales start", { name: "sales_start", type: "datetime-local", required: true, value: toLocalInput(current.sales_start) }),
        field("Sales end", { name: "sales_end", type: "datetime-local", required: true, value: toLocalInput(current.sales_end) }),
      ], `Save ${current.name}`, async (values) => {
        await api.patchTicketType(this.org, this.eventId, current.id, {
          name: values.name,
          quota: Number(values.quota),
          per_order_max: Number(values.per_order_max),
          sales_start: fromLocalInput(values.sales_start),
          sales_end: fromLocalInput(values.sales_end),
        });
        this.editing = null;
        this.console.say("Ticket type saved.");
        await this.render();
      })
      : form("ticket-type-create", [
        field("Ticket name", { name: "name", required: true, maxlength: 200 }),
        field("Price (in cents)", { name: "price_minor", type: "number", min: 0, required: true, value: 0 }),
        field("Currency", { name: "currency", required: true, pattern: "[A-Z]{3}", maxlength: 3, value: "EUR" }),
        field("Quota", { name: "quota", type: "number", min: 0, max: 1000000, required: true, value: 100 }),
        field("Per order, at most", { name: "per_order_max", type: "number", min: 1, max: 100, required: true, value: 10 }),
        field("Sales start", { name: "sales_start", type: "datetime-local", required: true, value: toLocalInput(now.toISOString()) }),
        field("Sales end", { name: "sales_end", type: "datetime-local", required: true, value: toLocalInput(inAYear.toISOString()) }),
        field("Role", { name: "role", options: [["attendee", "Attendee"], ["speaker", "Speaker"]] }),
      ], "Add ticket type", async (values, node) => {
        await api.createTicketType(this.org, this.eventId, {
          name: values.name,
          price_minor: Number(values.price_minor),
          currency: values.currency,
          quota: Number(values.quota),
          per_order_max: Number(values.per_order_max),
          sales_start: fromLocalInput(values.sales_start),
          sales_end: fromLocalInput(values.sales_end),
          role: values.role,
        });
        node.reset();
        this.console.say(`Ticket type ${values.name} added.`);
        await this.render();
      });
    this.root.replaceChildren(
      el("h2", { id: "tickets-title" }, "Ticket types"),
      table("Ticket types", ["Name", "Price", "Sold / quota", "Role", ""],
        types.map((t) => [t.name, money(t.price_minor, t.currency), `${t.sold} / ${t.quota}`, t.role,
          action("Edit", async () => {
            this.editing = t;
            await this.render();
            this.root.querySelector("[data-form='ticket-type-edit'] input")?.focus();
          }, onError, { "aria-label": `Edit ticket type ${t.name}` })]),
        "ticket-types"),
      typeForm,
      el("h2", {}, "Orders ", action("Refresh", () => this.render(), onError, { "aria-label": "Refresh orders" })),
      table("Orders", ["Buyer", "Tickets", "Total", "State", "Placed", ""],
        orders.map((o) => [
          el("span", {}, o.buyer?.name ?? "", el("br"), el("small", {}, o.buyer?.email ?? "")),
          `${o.quantity} × ${typeName.get(o.ticket_type_id) ?? o.ticket_type_id}`,
          money(o.total_minor, o.currency),
          el("span", { class: `order-state ${o.state}` }, o.state),
          new Date(o.created_at).toLocaleString(),
          el("span", { class: "row-actions" }, ...(ORDER_ACTIONS[o.state] ?? []).map(([name, label]) =>
            action(label, async () => {
              await api.orderAction(this.org, this.eventId, o.id, name);
              this.console.say(`Order ${label.toLowerCase()}: done.`);
              await this.render();
            }, onError, { "aria-label": `${label}: order of ${o.buyer?.name ?? o.id}` }))),
        ]),
        "orders"),
    );
  }
}
