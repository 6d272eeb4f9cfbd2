// The sign-in page moves on by itself once /console CODE has been sent: it asks every 3 seconds.
(function () {
  "use strict";
  var code = document.getElementById("pair-code");
  if (!code || !window.fetch) { return; }
  var url = code.getAttribute("data-status-url");
  function check() {
    fetch(url, { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { return r.json(); })
      .then(function (s) { if (s.approved) { window.location.reload(); } else { setTimeout(check, 3000); } })
      .catch(function () { setTimeout(check, 10000); });
  }
  setTimeout(check, 3000);
}());
