// A sending broadcast's progress, asked for every 2 seconds until it has finished.
(function () {
  "use strict";
  var box = document.getElementById("progress");
  if (!box || !window.fetch || box.getAttribute("data-finished") === "yes") { return; }
  var url = box.getAttribute("data-url");
  function set(id, value) { document.getElementById(id).textContent = String(value); }
  function poll() {
    fetch(url, { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { return r.json(); })
      .then(function (p) {
        var bar = document.getElementById("progress-bar");
        bar.max = p.total || 1;
        bar.value = p.total - p.left;
        set("progress-sent", p.sent);
        set("progress-failed", p.failed);
        set("progress-unreachable", p.unreachable);
        set("progress-left", p.left);
        set("progress-state", p.finished ? "Finished" : "Sending");
        set("status", p.status.charAt(0).toUpperCase() + p.status.slice(1));
        if (!p.finished) { setTimeout(poll, 2000); }
      })
      .catch(function () { setTimeout(poll, 5000); });
  }
  setTimeout(poll, 2000);
}());
