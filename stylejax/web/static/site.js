// Job pages: poll the job's status and draw the queue position, the progress bar and the result.
(function () {
  "use strict";
  var job = document.getElementById("job");
  if (!job) return;
  var url = job.dataset.statusUrl;
  var state = document.getElementById("state");
  var bar = document.getElementById("progress");
  var steps = document.getElementById("steps");

  function show(status) {
    if (status.state === "queued") {
      state.textContent = "Waiting in the queue" + (status.position ? ": " + status.position + " ahead" : "");
    } else if (status.state === "running") {
      state.textContent = "Running";
    } else if (status.state === "done") {
      state.textContent = "Done" + (status.seconds ? " in " + status.seconds.toFixed(2) + " s" : "");
    } else {
      state.textContent = "Failed: " + status.message;
    }
    bar.max = Math.max(status.total, 1);
    bar.value = status.step;
    steps.textContent = status.total > 1 ? "step " + status.step + " of " + status.total : "";
    if (status.state === "done") {
      var files = status.files || {};
      document.getElementById("result-image").src = files["result.png"];
      var losses = document.getElementById("losses");
      if (files["losses.png"]) { losses.src = files["losses.png"]; losses.hidden = false; }
      document.getElementById("result").hidden = false;
    }
    return status.state === "queued" || status.state === "running";
  }

  function poll(delay) {
    fetch(url, {headers: {"Accept": "application/json"}, cache: "no-store"})
      .then(function (response) { return response.json(); })
      .then(function (status) { if (show(status)) setTimeout(poll, delay, Math.min(delay * 1.5, 1000)); })
      .catch(function () { setTimeout(poll, 2000, 2000); });
  }
  var initial = state.textContent;
  if (initial.indexOf("Done") !== 0 && initial.indexOf("Failed") !== 0) poll(150);
})();
