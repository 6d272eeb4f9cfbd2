// The compose page's live preview: as she types or changes who it is for, the server renders the
// message as residents will get it (the bot's own text and audience rule) and counts them.
(function () {
  "use strict";
  var form = document.getElementById("compose");
  var box = document.getElementById("live-preview");
  if (!form || !box || !window.fetch || !window.URLSearchParams || !window.FormData) { return; }
  var url = box.getAttribute("data-url");
  var timer = null;
  var asked = 0;
  function update() {
    var mine = ++asked;
    fetch(url, {
      method: "POST",
      body: new URLSearchParams(new FormData(form)),
      credentials: "same-origin",
      cache: "no-store"
    })
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      // Only the newest answer counts: an older, slower one must not overwrite it.
      .then(function (html) { if (mine === asked) { box.innerHTML = html; } })
      .catch(function () { /* the button still works without the live preview */ });
  }
  function soon() {
    clearTimeout(timer);
    timer = setTimeout(update, 300);
  }
  form.addEventListener("input", soon);
  form.addEventListener("change", soon);
  update();
}());
