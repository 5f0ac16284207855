// Small DOM helpers in the GOV.UK patterns: error summary, field errors, notices,
// the home navigation, plain times. No framework: pages build DOM with el().
//
//   import { el, showErrors, clearErrors } from "/static/js/ui.js";
//   showErrors([{ field: "password", text: "Enter your password" }]);

import { logout } from "./api.js";

export const $ = (selector) => document.querySelector(selector);

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "text") node.textContent = value;
    else if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** errors: [{field: "input id" | null, text}] -> summary at the top + message by each field. */
export function showErrors(errors) {
  clearErrors();
  const summary = $("#error-summary");
  const list = $("#error-list");
  for (const { field, text } of errors) {
    const item = el("li");
    if (field && document.getElementById(field)) {
      item.append(el("a", { href: `#${field}`, text }));
      const message = document.getElementById(`${field}-error`);
      const group = document.getElementById(`${field}-group`);
      const input = document.getElementById(field);
      if (message) {
        message.textContent = "";
        message.append(el("span", { class: "visually-hidden", text: "Error: " }), text);
        message.hidden = false;
        const described = (input.getAttribute("aria-describedby") || "").split(" ").filter(Boolean);
        if (!described.includes(message.id)) described.push(message.id);
        input.setAttribute("aria-describedby", described.join(" "));
      }
      if (group) group.classList.add("form-group-error");
      input.classList.add("input-error");
    } else {
      item.textContent = text;
    }
    list.append(item);
  }
  summary.hidden = false;
  summary.focus();
}

export function clearErrors() {
  $("#error-list").replaceChildren();
  $("#error-summary").hidden = true;
  for (const node of document.querySelectorAll(".error-message")) node.hidden = true;
  for (const node of document.querySelectorAll(".form-group-error")) {
    node.classList.remove("form-group-error");
  }
  for (const node of document.querySelectorAll(".input-error")) node.classList.remove("input-error");
}

export function notify(text) {
  const node = $("#notice");
  node.textContent = text;
  node.hidden = !text;
}

export function fail(error) {
  showErrors([{ field: null, text: error.detail || error.message || String(error) }]);
  document.body.dataset.ready = "error";
}

/** The page has loaded what it shows (tests and the bench wait for body[data-ready]). */
export function ready() {
  if (!document.body.dataset.ready) document.body.dataset.ready = "yes";
}

const WHEN = new Intl.DateTimeFormat("en-GB", { dateStyle: "medium", timeStyle: "medium" });

export function when(iso, timeZone) {
  if (!iso) return "never";
  const date = new Date(iso);
  try {
    return new Intl.DateTimeFormat("en-GB", {
      dateStyle: "medium", timeStyle: "medium", timeZone,
    }).format(date);
  } catch {
    return WHEN.format(date);
  }
}

export function clock(iso, timeZone) {
  try {
    return new Intl.DateTimeFormat("en-GB", { timeStyle: "medium", timeZone }).format(new Date(iso));
  } catch {
    return new Date(iso).toLocaleTimeString("en-GB");
  }
}

export function age(seconds) {
  if (seconds === null || seconds === undefined || Number.isNaN(seconds)) return "never";
  const s = Math.max(0, Math.round(seconds));
  if (s < 5) return "just now";
  if (s < 90) return `${s} seconds ago`;
  if (s < 5400) return `${Math.round(s / 60)} minutes ago`;
  if (s < 129600) return `${Math.round(s / 3600)} hours ago`;
  return `${Math.round(s / 86400)} days ago`;
}

export const words = (value) => String(value ?? "").replaceAll("_", " ");

/** The home id of /homes/{home}/... pages. */
export function homeFromPath() {
  const match = location.pathname.match(/^\/homes\/([^/]+)/);
  return match ? decodeURIComponent(match[1]) : null;
}

/** Sign-out button and, on a home's pages, links to what this person may open there. */
export function chrome(rights, homeId) {
  const out = $("#logout");
  if (out) {
    out.hidden = false;
    out.addEventListener("click", logout);
  }
  if (!homeId) return;
  const base = `/homes/${encodeURIComponent(homeId)}`;
  const links = [
    [base, "Front door", "view_health"],
    [`${base}/events`, "History", "view_events"],
    [`${base}/carers`, "Carers and visits", "manage_carers"],
    [`${base}/audit`, "Audit log", "read_audit"],
  ].filter(([, , need]) => rights.has(need));
  const nav = $("#home-nav");
  nav.replaceChildren(el("ul", {}, links.map(([href, text]) => el("li", {},
    el("a", { href, text, "aria-current": location.pathname === href ? "page" : null })))));
  nav.hidden = links.length < 2;
}

export function registerServiceWorker() {
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(() => {});
  }
}
