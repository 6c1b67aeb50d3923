// The sign-in page: password login through the API, then on to the screen asked for (or
// the role's own screen).
import { api, session, saveSession, home, ApiError } from "/web/app.js";

const form = document.getElementById("login");
const error = document.getElementById("error");

function next(s) {
  const wanted = new URLSearchParams(location.search).get("next");
  // Only paths on this site.
  return wanted && wanted.startsWith("/") && !wanted.startsWith("//") ? wanted : home(s);
}

if (session()) {
  // Still signed in? Go straight on.
  api("GET", "/me").then((me) => location.replace(next(me))).catch(() => {});
}

form.addEventListener("submit", async (e) => {
  e.preventDefault();
  error.hidden = true;
  const button = form.querySelector("button");
  button.disabled = true;
  try {
    const s = await api("POST", "/auth/login", {
      name: document.getElementById("name").value.trim(),
      password: document.getElementById("password").value,
    });
    saveSession(s);
    location.assign(next(s));
  } catch (err) {
    error.textContent = err instanceof ApiError && err.status === 401
      ? "Wrong user name or password."
      : err.message;
    error.hidden = false;
    document.getElementById("password").select();
  } finally {
    button.disabled = false;
  }
});
