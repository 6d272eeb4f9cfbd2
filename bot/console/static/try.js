// Try it: send messages and press the bot's buttons without reloading the page. Every control is
// a plain form that works without this script; here the answer replaces the chat in place, the
// newest message scrolls into view, and the focus goes back to the message box.
(function () {
  "use strict";
  var chat = document.getElementById("chat");
  var input = document.getElementById("chat-text");
  if (!chat || !input || !window.fetch || !window.FormData || !window.URLSearchParams) { return; }
  function toBottom() {
    var log = document.getElementById("chat-log");
    if (log) { log.scrollTop = log.scrollHeight; }
  }
  function busy(form, yes) {
    var buttons = form.querySelectorAll("button");
    for (var i = 0; i < buttons.length; i++) { buttons[i].disabled = yes; }
  }
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.classList || !form.classList.contains("js-chat")) { return; }
    event.preventDefault();
    busy(form, true);
    fetch(form.action, {
      method: "POST",
      body: new URLSearchParams(new FormData(form)),
      credentials: "same-origin",
      cache: "no-store",
      headers: { "X-Requested-With": "fetch" }
    })
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (html) {
        chat.innerHTML = html;
        busy(form, false);
        if (form.id === "chat-form") { input.value = ""; }
        toBottom();
        input.focus();
      })
      // Without the script's way, the form's own: a full page load shows the answer.
      .catch(function () { busy(form, false); form.submit(); });
  });
  toBottom();
}());
