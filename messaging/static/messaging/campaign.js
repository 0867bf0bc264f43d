// "Follow live" on a send's page: on request (never by itself, WCAG 2.2.1/2.2.2), refresh the
// statuses every 10 seconds by fetching the page and swapping the #live region; stop anytime.
(function () {
  "use strict";
  const button = document.getElementById("follow");
  if (!button || !document.getElementById("live")) return;
  let timer = null;

  async function refresh() {
    try {
      const response = await fetch(window.location.href, { credentials: "same-origin" });
      if (!response.ok) return;
      const doc = new DOMParser().parseFromString(await response.text(), "text/html");
      const fresh = doc.getElementById("live");
      const current = document.getElementById("live");
      if (fresh && current && !current.contains(document.activeElement)) current.replaceWith(fresh);
      if (!doc.getElementById("follow")) stop();  // nothing on its way any more
    } catch (error) {
      // Offline for a moment: the next tick tries again.
    }
  }

  function stop() {
    clearInterval(timer);
    timer = null;
    button.setAttribute("aria-pressed", "false");
  }

  button.addEventListener("click", () => {
    if (timer) {
      stop();
      return;
    }
    timer = setInterval(refresh, 10000);
    button.setAttribute("aria-pressed", "true");
    refresh();
  });
})();
