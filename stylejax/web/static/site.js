// The site's scripts (pages work without them; these make them live):
// - job pages poll the job's status: queue position, "preparing", steps, elapsed time and an estimate, notices
//   (connection lost, a restart), the progress in the tab title, then the result with a before/after divide;
// - forms marked data-retry are sent in the background; "busy" (503) is retried after its Retry-After, with a
//   countdown, until the site takes the job, then the job's page opens.
(function () {
  "use strict";

  function clock(seconds) {
    seconds = Math.max(0, Math.round(seconds));
    var minutes = Math.floor(seconds / 60), rest = seconds % 60;
    return minutes + ":" + (rest < 10 ? "0" : "") + rest;
  }

  function sentence(text) {
    return text.charAt(0).toUpperCase() + text.slice(1) + ".";
  }

  function compare() {
    var slider = document.getElementById("compare-slider");
    if (!slider) return;
    var before = document.getElementById("before-image"), divider = document.getElementById("divider");
    function move() {
      var value = Number(slider.value);
      before.style.clipPath = "inset(0 " + (100 - value) + "% 0 0)";
      divider.style.left = value + "%";
      slider.setAttribute("aria-valuetext", value + "% your photo, " + (100 - value) + "% the result");
    }
    slider.addEventListener("input", move);
    move();
  }

  function jobPage(job) {
    var url = job.dataset.statusUrl, title = job.dataset.title, unit = job.dataset.unit || "step";
    var state = document.getElementById("state"), bar = document.getElementById("progress");
    var steps = document.getElementById("steps"), notice = document.getElementById("notice");
    var seen = null;  // the first (step, elapsed) this page saw while the job advanced: its own rate

    function secondsLeft(status) {
      if (seen && status.step > seen.step) {
        return (status.elapsed - seen.elapsed) / (status.step - seen.step) * (status.total - status.step);
      }
      var expected = status.expected;
      if (!expected) return null;
      var whole = expected.prepare_seconds + status.total * expected.step_seconds;
      return Math.max(whole - (status.elapsed || 0), 1);
    }

    function say(text, tab) {
      if (state.textContent !== text) state.textContent = text;
      document.title = (tab ? tab + " · " : "") + title + " · stylejax";
    }

    function show(status) {
      var running = status.state === "running";
      if (running && status.step > 0 && (!seen || status.step < seen.step)) {
        seen = {step: status.step, elapsed: status.elapsed};  // first seen, or started again after a restart
      }
      var left = (running || status.state === "queued") ? secondsLeft(status) : null;
      var estimate = left === null ? "" : status.state === "queued"
          ? " · it takes about " + clock(left) + " once it starts" : " · about " + clock(left) + " left";
      if (status.state === "queued") {
        say("Waiting in the queue" + (status.position ? ": " + status.position + " ahead" : ""), "Queued");
      } else if (running && status.step === 0) {
        say("Preparing: loading the networks and compiling", "Preparing");
      } else if (running) {
        say("Running", Math.floor(100 * status.step / Math.max(status.total, 1)) + "%");
      } else if (status.state === "done") {
        say("Done", "Done");
      } else {
        say("Failed: " + status.message, "Failed");
      }
      bar.max = Math.max(status.total, 1);
      bar.value = status.step;
      bar.hidden = !(running || status.state === "queued");
      var count = status.total > 1 && (running || status.state === "queued")
          ? unit + " " + status.step + " of " + status.total : "";
      var elapsed = running && status.elapsed !== null ? clock(status.elapsed) + " elapsed" : "";
      steps.textContent = ([count, elapsed].filter(Boolean).join(" · ") + estimate).replace(/^ · /, "");
      var message = status.stalled ? "the worker stopped while running this job; it will start again shortly"
          : (running || status.state === "queued") ? status.message : "";
      notice.textContent = message ? sentence(message) : "";
      notice.hidden = !message;
      if (status.state === "done") {
        var files = status.files || {};
        if (status.video) {
          document.getElementById("result-video").src = status.video;
        } else {
          document.getElementById("result-image").src = files["result.png"];
        }
        if (files["losses.png"]) {
          document.getElementById("losses").src = files["losses.png"];
          document.getElementById("losses-panel").hidden = false;
        }
        if (status.waited) {
          document.getElementById("waited").textContent = "ready " + status.waited.toFixed(1) + " s after your upload";
        }
        document.getElementById("result").hidden = false;
      }
      return running || status.state === "queued";
    }

    function poll(delay) {
      fetch(url, {headers: {"Accept": "application/json"}, cache: "no-store"})
        .then(function (response) {
          if (!response.ok && response.status !== 404) throw new Error(response.status);
          return response.json();
        })
        .then(function (status) {
          if (status.error) { say(status.error, "Gone"); return; }
          if (show(status)) setTimeout(poll, delay, Math.min(delay * 1.5, 1000));
        })
        .catch(function () {
          notice.textContent = "Connection to the site lost; retrying…";
          notice.hidden = false;
          setTimeout(poll, 2000, 2000);
        });
    }
    var initial = state.textContent;
    if (initial.indexOf("Done") !== 0 && initial.indexOf("Failed") !== 0) poll(150);
  }

  function retryingForm(form) {
    var status = form.querySelector(".form-status");
    var button = form.querySelector("button[type=submit]");
    var maxBytes = Number(form.dataset.maxBytes);
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var large = Array.prototype.map.call(form.querySelectorAll("input[type=file]"), function (input) {
        return input.files[0];
      }).filter(function (file) { return file && file.size > maxBytes; })[0];
      status.classList.remove("refusal");
      if (large) {  // refused here: the site would close the connection on it
        status.textContent = "“" + large.name + "” is " + (large.size / 1e6).toFixed(1) + " MB; the limit is " +
            (maxBytes / 1e6).toFixed(1) + " MB per file: send a smaller or more compressed version.";
        status.classList.add("refusal");
        return;
      }
      var body = new FormData(form), failures = 0;
      button.disabled = true;
      function send() {
        status.textContent = "Uploading…";
        fetch(form.action, {method: "POST", body: body, headers: {"Accept": "application/json"}})
          .then(function (response) {
            if (response.redirected || (response.ok && response.url.indexOf("/jobs/") >= 0)) {
              window.location.assign(response.url);
              return;
            }
            return response.json().then(function (answer) {
              if (response.status === 503 || response.status === 429) {
                var wait = Number(response.headers.get("Retry-After")) || 5;
                (function count(left) {
                  if (left <= 0) { send(); return; }
                  status.textContent = sentence(answer.error) + " This page sends it again by itself in " + left +
                      " s.";
                  setTimeout(count, 1000, left - 1);
                })(wait);
              } else {
                status.textContent = sentence(answer.error || "the site refused this request");
                status.classList.add("refusal");
                button.disabled = false;
              }
            });
          })
          .catch(function () {
            if (++failures > 5) {
              status.textContent = "The site does not answer; try again later.";
              status.classList.add("refusal");
              button.disabled = false;
              return;
            }
            status.textContent = "Connection to the site lost; trying again in 3 s…";
            setTimeout(send, 3000);
          });
      }
      send();
    });
  }

  compare();
  var job = document.getElementById("job");
  if (job) jobPage(job);
  Array.prototype.forEach.call(document.querySelectorAll("form[data-retry]"), retryingForm);
})();
