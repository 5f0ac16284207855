// /telecare, emergency access: a "Break glass" button on each door of the fleet table
// (a dialog asks for the reason and a fresh authenticator code), and the rings that
// escalated to this officer: that ring's picture, "I'm dealing with it", and unlock
// where the home allows it. Each of these is audited by the hub and told to the family.
//
//   <script type="module" src="/static/js/break_glass.js"></script>   (telecare.html)

import { api, ApiError } from "./api.js";
import { $, el, fail, notify, words } from "./ui.js";

const MIN_REASON = 20;
let mode = null; // {kind: "break_glass", device, name} | {kind: "escalation", id, name}

function fieldError(id, text) {
  const node = $(`#${id}-error`);
  node.textContent = text ? `Error: ${text}` : "";
  node.hidden = !text;
  $(`#${id}`).classList.toggle("input-error", Boolean(text));
}

function openDialog(next) {
  mode = next;
  const glass = next.kind === "break_glass";
  $("#bg-title").textContent = glass ? `Break glass: open ${next.name}?` : `Unlock ${next.name}?`;
  $("#bg-reason-group").hidden = !glass;
  $("#bg-reason").value = "";
  $("#bg-code").value = "";
  fieldError("bg-reason", "");
  fieldError("bg-code", "");
  $("#bg-dialog").showModal();
  (glass ? $("#bg-reason") : $("#bg-code")).focus();
}

async function confirm(event) {
  event.preventDefault();
  const reason = $("#bg-reason").value.trim();
  const code = $("#bg-code").value.replace(/\s+/g, "");
  const glass = mode.kind === "break_glass";
  if (glass && reason.length < MIN_REASON) {
    return fieldError("bg-reason", `Say why in at least ${MIN_REASON} characters: the family will read it`);
  }
  if (!/^[0-9]{6,10}$/.test(code)) return fieldError("bg-code", "Enter the 6 digit code from your authenticator app");
  $("#bg-confirm").disabled = true;
  try {
    if (glass) {
      const answer = await api(`/api/doors/${encodeURIComponent(mode.device)}/break-glass`, {
        method: "POST", body: { reason, totp: code }, redirect: false,
      });
      const until = new Date(answer.break_glass.expires_at).toLocaleTimeString("en-GB", { hour: "2-digit", minute: "2-digit" });
      notify(`Break-glass open until ${until}; the family has been told. Unlock: ${words(answer.unlock.status)}.`);
    } else {
      const answer = await api(`/api/escalations/${encodeURIComponent(mode.id)}/unlock`, {
        method: "POST", body: { totp: code }, redirect: false,
      });
      notify(`Unlock ${words(answer.status)}; the family has been told.`);
    }
    $("#bg-dialog").close();
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      fieldError("bg-code", "That code did not match: wait for the next code and try again");
    } else {
      $("#bg-dialog").close();
      fail(error);
    }
  } finally {
    $("#bg-confirm").disabled = false;
  }
}

function addButtons() {
  for (const row of document.querySelectorAll("#fleet tbody tr[data-device]")) {
    if (row.querySelector("td.break-glass")) continue;
    const name = row.querySelector("th")?.textContent || row.dataset.device;
    row.append(el("td", { class: "break-glass" }, el("button", {
      type: "button", class: "button button-small button-warning", text: "Break glass",
      "aria-label": `Break glass: emergency access to ${name}`,
      onclick: () => openDialog({ kind: "break_glass", device: row.dataset.device, name }),
    })));
  }
}

async function acknowledge(esc, button) {
  button.disabled = true;
  try {
    await api(`/api/escalations/${encodeURIComponent(esc.id)}/acknowledge`, { method: "POST" });
    notify("Thank you: the escalation stops here, and it is recorded that you are dealing with it.");
    await loadEscalations();
  } catch (error) {
    button.disabled = false;
    fail(error);
  }
}

function escalationItem(esc, highlighted) {
  const at = new Date(esc.ring_at).toLocaleTimeString("en-GB", { hour: "2-digit", minute: "2-digit" });
  const name = `the door (${esc.device})`;
  const picture = el("img", { alt: `Picture of the ring at ${at}`, width: 320, hidden: true });
  return el("li", { class: highlighted ? "escalation highlighted" : "escalation", dataset: { escalation: esc.id } },
    el("p", {}, el("strong", { text: `Ring at ${at}` }), ` – ${words(esc.status)}`),
    picture,
    el("div", { class: "button-group" },
      el("button", { type: "button", class: "button button-small button-secondary", text: "View the picture",
        onclick: () => { picture.src = `/api/escalations/${encodeURIComponent(esc.id)}/snapshot`; picture.hidden = false; } }),
      esc.status === "running"
        ? el("button", { type: "button", class: "button button-small", text: "I'm dealing with it",
          onclick: (event) => acknowledge(esc, event.currentTarget) })
        : null,
      esc.telecare_may_unlock
        ? el("button", { type: "button", class: "button button-small button-warning", text: "Unlock",
          onclick: () => openDialog({ kind: "escalation", id: esc.id, name }) })
        : el("span", { class: "hint", text: " This home does not let telecare unlock." })));
}

async function loadEscalations() {
  const mine = await api("/api/escalations/mine");
  const wanted = new URLSearchParams(location.search).get("escalation");
  $("#escalations ul").replaceChildren(...mine.map((esc) => escalationItem(esc, esc.id === wanted)));
  $("#escalations").hidden = mine.length === 0;
}

function main() {
  $("#bg-form").addEventListener("submit", confirm);
  $("#bg-cancel").addEventListener("click", () => $("#bg-dialog").close());
  new MutationObserver(addButtons).observe($("#fleet tbody"), { childList: true });
  addButtons();
  loadEscalations().catch(fail);
  setInterval(() => loadEscalations().catch(fail), 30000);
}

main();
