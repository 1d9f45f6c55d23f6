// bootd dashboard: live updates over server-sent events. Every page works
// without this file; with it, a page whose <body> names an event stream in
// data-live swaps in the fragments the server sends as machines boot.
(function () {
  "use strict";
  var body = document.body;
  var url = body.dataset.live;
  if (!url || !window.EventSource) {
    return;
  }
  var live = document.getElementById("live");
  var missed = document.getElementById("missed");

  function say(text, state) {
    if (live) {
      live.hidden = false;
      live.textContent = text;
      live.className = "live " + state;
    }
    body.dataset.liveState = state;
  }

  function fragment(html) {
    var t = document.createElement("template");
    t.innerHTML = html.trim();
    return t.content.firstElementChild;
  }

  function flash(el) {
    if (!el) {
      return;
    }
    el.classList.remove("updated");
    void el.offsetWidth; // restart the animation
    el.classList.add("updated");
  }

  function setHTML(el, html) {
    if (el) {
      el.innerHTML = html;
    }
  }

  function change(c) {
    // The machines table: the machine's row, when it is on this page.
    var row = document.querySelector('tr[data-mac="' + c.mac + '"]');
    if (row) {
      setHTML(row.querySelector(".c-state"), c.state);
      setHTML(row.querySelector(".c-stage"), c.stage);
      flash(row);
    }
    // A machine's page: its state, last stage and timeline.
    setHTML(document.getElementById("node-state"), c.state);
    setHTML(document.getElementById("node-stage"), c.stage);
    var timeline = document.getElementById("timeline");
    if (!timeline || !c.boots) {
      return;
    }
    // Boots come newest first; insert the new ones in that order at the top.
    for (var i = c.boots.length - 1; i >= 0; i--) {
      var b = c.boots[i];
      var section = fragment(b.html);
      var old = document.getElementById("boot-" + b.seq);
      if (old) {
        old.replaceWith(section);
      } else {
        timeline.prepend(section);
      }
      flash(section);
    }
    var none = document.getElementById("no-boots");
    if (none) {
      none.remove();
    }
  }

  var es = new EventSource(url);
  es.onopen = function () {
    say("● live", "open");
  };
  es.onerror = function () {
    if (es.readyState === EventSource.CLOSED) {
      // Refused (the session ended, the machine was forgotten): no retry.
      say("○ live updates stopped: reload the page", "closed");
    } else {
      say("○ reconnecting…", "closed");
    }
  };
  es.addEventListener("change", function (e) {
    change(JSON.parse(e.data));
  });
  es.addEventListener("resync", function () {
    if (missed) {
      missed.hidden = false;
    }
  });
})();
