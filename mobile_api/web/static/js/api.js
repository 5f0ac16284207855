// The one way pages talk to the JSON API: same-origin fetch, the CSRF header on
// unsafe methods, and a redirect to /login when the session is missing or over.
//
//   import { api, me } from "/static/js/api.js";
//   const doors = await api(`/api/homes/${home}/doors`);
//   await api(`/api/doors/${device}/unlock`, { method: "POST", body: { reason: "carer" } });

let csrf = null;
let mePromise = null;

export class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
    this.detail = detail;
  }
}

export function toLogin() {
  const next = location.pathname + location.search;
  location.assign(`/login?next=${encodeURIComponent(next)}`);
  return new Promise(() => {}); // never settles: the page is going away
}

function detailOf(body, status) {
  if (body && typeof body.detail === "string") return body.detail;
  if (body && Array.isArray(body.detail)) {
    return body.detail.map((d) => `${(d.loc || []).slice(-1)[0]}: ${d.msg}`).join("; ");
  }
  return `the server answered ${status}: try again`;
}

async function csrfToken() {
  if (csrf === null) {
    const info = await api("/api/session");
    csrf = info.csrf_token;
  }
  return csrf;
}

export function rememberCsrf(token) {
  csrf = token;
}

export async function api(path, { method = "GET", body, redirect = true, raw = false, keepalive = false } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (!["GET", "HEAD"].includes(method) && path !== "/api/login" &&
      path !== "/api/invitations/accept") {
    headers["X-CSRF-Token"] = await csrfToken();
  }
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "same-origin",
    cache: "no-store",
    keepalive,
  });
  if (response.status === 401 && redirect) return toLogin();
  if (raw) return response;
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!response.ok) throw new ApiError(response.status, detailOf(data, response.status));
  return data;
}

/** One page of a list: its rows and the next page's address (the Link header), if any. */
export async function apiPage(url) {
  const response = await api(url, { raw: true });
  const rows = await response.json().catch(() => null);
  if (!response.ok) {
    const detail = typeof rows?.detail === "string" ? rows.detail : `the server answered ${response.status}: try again`;
    throw new ApiError(response.status, detail);
  }
  const next = /<([^>]+)>\s*;\s*rel="next"/.exec(response.headers.get("Link") || "");
  return { rows, next: next ? next[1] : null };
}

/** Who is signed in, with their homes, roles and permissions (loaded once per page). */
export function me() {
  if (mePromise === null) mePromise = api("/api/me");
  return mePromise;
}

export function homeOf(who, homeId) {
  return (who.homes || []).find((h) => h.home === homeId) || null;
}

/** Permissions across all memberships of one home. */
export function rightsIn(who, homeId) {
  const rights = new Set();
  for (const h of who.homes || []) {
    if (h.home === homeId) for (const p of h.permissions || []) rights.add(p);
  }
  return rights;
}

export async function logout() {
  try {
    await api("/api/logout", { method: "POST", redirect: false });
  } finally {
    location.assign("/login");
  }
}
