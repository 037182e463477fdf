// Refreshes the fleet section from the server's rendering (GET /ui/fleet,
// the same template as the page) without reloading the page. No build step.
"use strict";
(function () {
  const main = document.getElementById("fleet");
  const live = document.getElementById("live");
  const every = Math.max(1, Number(main.dataset.refresh) || 2) * 1000;
  let last = "";
  async function refresh() {
    try {
      const resp = await fetch("/ui/fleet", { credentials: "same-origin", cache: "no-store" });
      if (resp.status === 401) {
        window.location.assign("/login");
        return;
      }
      if (!resp.ok) throw new Error(resp.status + " " + resp.statusText);
      const html = await resp.text();
      if (html !== last) {
        last = html;
        // html is the server's html/template output (escaped): safe to insert.
        main.innerHTML = html;
      }
      live.textContent = "live: updated " + new Date().toLocaleTimeString();
      live.className = "live";
    } catch (e) {
      live.textContent = "live: cannot reach the API (" + e.message + "), retrying";
      live.className = "live bad";
    }
  }
  setInterval(refresh, every);
})();
