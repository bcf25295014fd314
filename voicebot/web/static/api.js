// Shared by every page: JSON calls with the session's CSRF token on state-changing requests.
"use strict";

const voicebot = (() => {
  let csrf = null;

  async function session() {
    const r = await fetch("/api/session", { credentials: "same-origin" });
    const state = await r.json();
    csrf = state.csrf_token;
    return state;
  }

  async function call(method, url, body) {
    const headers = { Accept: "application/json" };
    if (method !== "GET") {
      if (csrf === null) await session();
      headers["X-CSRF-Token"] = csrf;
    }
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const r = await fetch(url, {
      method,
      headers,
      credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const data = await r.json().catch(() => ({}));
    if (data && data.csrf_token) csrf = data.csrf_token;
    if (r.status === 401 && data.error === "unauthenticated") {
      window.location.assign("/login");
    }
    return { status: r.status, data };
  }

  async function token() {
    if (csrf === null) await session();
    return csrf;
  }

  function text(el, value) {
    // Always textContent: nothing from the server is ever parsed as HTML.
    el.textContent = value;
  }

  async function signOut() {
    await call("DELETE", "/api/session");
    window.location.assign("/login");
  }

  return { session, call, text, signOut, token };
})();
