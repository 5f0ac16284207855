// /login: username, password and the authenticator code; then on to ?next or "/".

import { api, ApiError, rememberCsrf } from "./api.js";
import { $, fail, ready, registerServiceWorker, showErrors } from "./ui.js";

function nextPage() {
  const next = new URLSearchParams(location.search).get("next") || "/";
  // Only a path on this site: never an open redirect.
  return next.startsWith("/") && !next.startsWith("//") ? next : "/";
}

async function submit(event) {
  event.preventDefault();
  const username = $("#username").value.trim();
  const password = $("#password").value;
  const totp = $("#totp").value.replace(/\s+/g, "");
  const errors = [];
  if (!username) errors.push({ field: "username", text: "Enter your username" });
  if (!password) errors.push({ field: "password", text: "Enter your password" });
  if (totp && !/^[0-9]{6,10}$/.test(totp)) {
    errors.push({ field: "totp", text: "Enter the 6 digit code from your authenticator app" });
  }
  if (errors.length) return showErrors(errors);
  $("#login").disabled = true;
  try {
    const body = { username, password };
    if (totp) body.totp = totp;
    const info = await api("/api/login", { method: "POST", body, redirect: false });
    rememberCsrf(info.csrf_token);
    location.assign(info.totp_enrolled ? nextPage() : "/invite#enrol");
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      showErrors([{ field: "username", text: "Wrong username, password or code: check them and try again" }]);
    } else {
      fail(error);
    }
  } finally {
    $("#login").disabled = false;
  }
}

$("#login-form").addEventListener("submit", submit);
ready();
registerServiceWorker();
