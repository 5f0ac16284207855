// /invite#<token>: accept an invitation (the token stays in the fragment, so it never
// reaches a server log), sign in, then enrol the authenticator app (TOTP).
// /invite#enrol: enrolment only, for someone signed in without a second factor.

import { api, ApiError, rememberCsrf } from "./api.js";
import { $, clearErrors, fail, ready, showErrors } from "./ui.js";

const fragment = location.hash.slice(1);
// Drop the token from the address bar and history at once.
if (fragment) history.replaceState(null, "", location.pathname);

function show(step) {
  for (const id of ["accept-step", "enrol-step", "done-step", "no-token"]) {
    document.getElementById(id).hidden = id !== step;
  }
  const heading = document.querySelector(`#${step} h1`);
  if (heading) {
    heading.tabIndex = -1;
    heading.focus();
  }
}

async function enrol() {
  const { secret, uri } = await api("/api/totp/enroll", { method: "POST" });
  $("#totp-secret").textContent = secret.replace(/(.{4})/g, "$1 ").trim();
  $("#totp-uri").href = uri;
  show("enrol-step");
  qr(uri).catch(() => {}); // the key and the link above work without it
}

async function qr(uri) {
  const response = await api("/api/totp/qr", { method: "POST", body: { uri }, raw: true });
  if (!response.ok) return;
  const img = document.createElement("img");
  img.alt = "QR code: scan it with your authenticator app";
  img.width = 220;
  img.height = 220;
  img.src = URL.createObjectURL(await response.blob());
  $("#qr").replaceChildren(img);
}

async function accept(event) {
  event.preventDefault();
  const display_name = $("#display_name").value.trim();
  const username = $("#new-username").value.trim();
  const password = $("#new-password").value;
  const errors = [];
  if (!display_name) errors.push({ field: "display_name", text: "Enter your name" });
  if (username.length < 3) {
    errors.push({ field: "new-username", text: "Enter a username of at least 3 characters" });
  }
  if (password.length < 12) {
    errors.push({ field: "new-password", text: "Enter a password of at least 12 characters" });
  }
  if (errors.length) return showErrors(errors);
  $("#accept").disabled = true;
  try {
    await api("/api/invitations/accept", {
      method: "POST", redirect: false, body: { token: fragment, username, password, display_name },
    });
    const info = await api("/api/login", { method: "POST", redirect: false, body: { username, password } });
    rememberCsrf(info.csrf_token);
    clearErrors();
    await enrol();
  } catch (error) {
    fail(error);
  } finally {
    $("#accept").disabled = false;
  }
}

async function confirm(event) {
  event.preventDefault();
  const code = $("#confirm-code").value.replace(/\s+/g, "");
  if (!/^[0-9]{6,10}$/.test(code)) {
    return showErrors([{ field: "confirm-code", text: "Enter the 6 digit code from the app" }]);
  }
  try {
    await api("/api/totp/confirm", { method: "POST", body: { totp: code }, redirect: false });
    clearErrors();
    show("done-step");
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      showErrors([{ field: "confirm-code", text: "That code did not match: wait for a new one and try again" }]);
    } else {
      fail(error);
    }
  }
}

$("#accept-form").addEventListener("submit", accept);
$("#confirm-form").addEventListener("submit", confirm);
if (fragment === "enrol") enrol().then(ready, fail);
else {
  show(fragment ? "accept-step" : "no-token");
  ready();
}
