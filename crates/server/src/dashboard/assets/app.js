// Progressive enhancement only: every page works without this script.
(function () {
  "use strict";

  // Auto-refresh: re-fetch this URL and swap the #live region, so focus and forms stay.
  var live = document.getElementById("live");
  if (live && live.dataset.autorefresh) {
    var every = Math.max(2, parseInt(live.dataset.autorefresh, 10) || 5) * 1000;
    var toggle = document.createElement("label");
    toggle.className = "count";
    toggle.innerHTML = '<input type="checkbox" id="autorefresh" checked> Refresh automatically';
    live.parentNode.insertBefore(toggle, live);
    var tick = function () {
      if (!document.getElementById("autorefresh").checked || document.hidden) return schedule();
      fetch(location.href, { headers: { Accept: "text/html" } })
        .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
        .then(function (text) {
          var fresh = new DOMParser().parseFromString(text, "text/html");
          var freshLive = fresh.getElementById("live");
          var current = document.getElementById("live");
          if (freshLive && current) current.innerHTML = freshLive.innerHTML;
          ["queue-h"].forEach(function (id) {
            var a = document.getElementById(id), b = fresh.getElementById(id);
            if (a && b) a.parentNode.innerHTML = b.parentNode.innerHTML;
          });
        })
        .catch(function () {})
        .then(schedule);
    };
    var schedule = function () { setTimeout(tick, every); };
    schedule();
  }

  // A job's log: fetch lines after the last shown from the API until the job is done.
  var logs = document.getElementById("logs");
  if (logs && logs.dataset.job) {
    var job = logs.dataset.job, level = logs.dataset.level, last = logs.dataset.last;
    var more = logs.dataset.more === "true", finished = logs.dataset.finished === "true";
    var add = function (line) {
      if (last && line.timestamp <= last) return;
      var li = document.createElement("li");
      li.className = "log-" + String(line.level).toLowerCase();
      var t = document.createElement("time");
      t.dateTime = line.timestamp; t.textContent = String(line.timestamp).slice(11, 19);
      var l = document.createElement("span"); l.className = "level"; l.textContent = line.level;
      var m = document.createElement("span"); m.className = "msg"; m.textContent = line.message;
      li.appendChild(t); li.appendChild(document.createTextNode(" ")); li.appendChild(l);
      li.appendChild(document.createTextNode(" ")); li.appendChild(m);
      logs.appendChild(li);
      last = line.timestamp;
      var none = document.getElementById("no-logs"); if (none) none.remove();
    };
    var follow = function () {
      var url = "/api/v1/jobs/" + encodeURIComponent(job) + "?level=" + level + (last ? "&since=" + encodeURIComponent(last) : "");
      fetch(url)
        .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
        .then(function (j) {
          var lines = j.logs || [];
          lines.forEach(add);
          var full = lines.length >= 100;
          if (j.finishedAt && !full) {
            var note = document.getElementById("following");
            if (note) note.textContent = j.success ? "The job succeeded." : "The job failed.";
            var state = document.getElementById("job-state");
            var lastMsg = logs.lastElementChild && logs.lastElementChild.querySelector(".msg");
            if (state) state.textContent = j.success ? "succeeded" : "failed: " + (lastMsg ? lastMsg.textContent : "see the log");
            return;
          }
          setTimeout(follow, full ? 0 : 1500);
        })
        .catch(function () { setTimeout(follow, 5000); });
    };
    if (!finished || more) follow();
  }

  // /packages: filter the rows as one types (the form also works without script).
  var search = document.getElementById("package-search");
  var table = document.getElementById("packages");
  if (search && table) {
    var rows = Array.prototype.slice.call(table.tBodies[0].rows);
    var count = document.getElementById("package-count");
    var total = rows.length;
    search.addEventListener("input", function () {
      var q = search.value.trim().toLowerCase(), shown = 0;
      rows.forEach(function (row) {
        var hit = !q || row.dataset.name.indexOf(q) !== -1;
        row.hidden = !hit; if (hit) shown++;
      });
      if (count) count.textContent = shown + " of " + total + " packages" + (q ? " matching \u201c" + q + "\u201d" : "");
    });
  }
})();
