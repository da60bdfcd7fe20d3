// Ward UI behaviour. Loaded as a file (the Content-Security-Policy forbids
// inline script); everything works without it, this only improves display.
(function () {
  "use strict";

  // Show each <time> in the viewer's time zone, keeping UTC in the tooltip.
  function localTimes(root) {
    root.querySelectorAll("time[datetime]").forEach(function (el) {
      if (el.dataset.local) { return; }
      var d = new Date(el.getAttribute("datetime"));
      if (isNaN(d)) { return; }
      el.title = el.textContent.trim();
      el.textContent = d.toLocaleString(undefined, {
        year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", timeZoneName: "short"
      });
      el.dataset.local = "1";
    });
  }

  // Confirm dangerous actions: <form data-confirm="...">.
  document.addEventListener("submit", function (ev) {
    var msg = ev.target.getAttribute("data-confirm");
    if (msg && !window.confirm(msg)) { ev.preventDefault(); }
  });

  document.addEventListener("DOMContentLoaded", function () { localTimes(document); });
  document.addEventListener("htmx:afterSwap", function (ev) { localTimes(ev.target); });
})();
