/* Photo capture and comparison: the behaviour the photo pages add when scripts run.
 *
 * Without this file the capture page is a plain upload form that runs the quality check
 * on the server before keeping. With it: a live camera where the browser allows it, the
 * baseline photo of the chosen view laid over the picture at 35 % (the ghost), and the
 * quality check shown as soon as a photo is taken or chosen, before it is kept.
 * Nothing is stored in the browser; the photo lives in memory until it is sent.
 */
(function () {
  "use strict";

  function onReady(fn) {
    if (document.readyState !== "loading") fn();
    else document.addEventListener("DOMContentLoaded", fn);
  }

  function csrf(form) {
    var input = form.querySelector("[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function initCapture(form) {
    var fileInput = form.querySelector("input[type=file][name=photo]");
    var target = form.querySelector("[data-check-target]");
    var preview = form.querySelector("[data-preview]");
    var keep = form.querySelector("[data-keep]");
    var retake = form.querySelector("[data-retake]");
    var keepOnlyIfUsable = form.querySelector("[name=keep_only_if_usable]");
    var camera = form.querySelector("[data-camera]");
    var video = form.querySelector("[data-video]");
    var ghost = form.querySelector("[data-ghost]");
    var ghostHint = form.querySelector("[data-ghost-hint]");
    var canvas = form.querySelector("[data-canvas]");
    var start = form.querySelector("[data-camera-start]");
    var shoot = form.querySelector("[data-camera-shoot]");
    var camError = form.querySelector("[data-camera-error]");
    var checkUrl = form.getAttribute("data-check-url");
    var stream = null;
    var previewUrl = null;
    var sawProblems = false;

    // Only some browsers (Safari) can show a HEIC; elsewhere the preview is left out and
    // the check below still says whether the photo will do.
    preview.addEventListener("error", function () { preview.hidden = true; });

    function selectedView() {
      var r = form.querySelector("input[name=view]:checked");
      return r ? r : null;
    }

    function updateGhost() {
      var r = selectedView();
      var url = r && r.getAttribute("data-baseline-url");
      if (url) { ghost.src = url; ghost.hidden = false; ghostHint.hidden = false; }
      else { ghost.removeAttribute("src"); ghost.hidden = true; ghostHint.hidden = true; }
    }

    function resetCheck() {
      target.innerHTML = "";
      sawProblems = false;
      keep.textContent = "Check and keep photo";
      retake.hidden = true;
      if (previewUrl) { URL.revokeObjectURL(previewUrl); previewUrl = null; }
      preview.hidden = true;
    }

    function runCheck() {
      resetCheck();
      var file = fileInput.files && fileInput.files[0];
      if (!file) return;
      previewUrl = URL.createObjectURL(file);
      preview.src = previewUrl;
      preview.hidden = false;
      retake.hidden = false;
      var r = selectedView();
      var data = new FormData();
      data.append("view", r ? r.value : "");
      data.append("photo", file);
      target.innerHTML = '<p class="muted">Checking the photo…</p>';
      keep.disabled = true;
      fetch(checkUrl, {
        method: "POST", body: data, credentials: "same-origin",
        headers: { "X-CSRFToken": csrf(form) },
      }).then(function (resp) {
        return resp.text().then(function (html) { return { ok: resp.ok, html: html }; });
      }).then(function (res) {
        // Our own server-rendered fragment (escaped by the template engine).
        target.innerHTML = res.html;
        var problems = target.querySelector(".problems");
        sawProblems = !!problems;
        if (!res.ok) { keep.disabled = true; return; }
        keep.disabled = false;
        keep.textContent = sawProblems ? "Keep anyway" : "Keep photo";
      }).catch(function () {
        target.innerHTML = '<p class="message message-error">The check could not run (network). You can still keep the photo; it is checked again on the server.</p>';
        keep.disabled = false;
      });
    }

    fileInput.addEventListener("change", runCheck);
    form.addEventListener("change", function (e) {
      if (e.target && e.target.name === "view") {
        updateGhost();
        if (fileInput.files && fileInput.files.length) runCheck();
      }
    });
    form.addEventListener("submit", function () {
      // The person saw the problems and chose to keep the photo anyway.
      if (sawProblems && keepOnlyIfUsable) keepOnlyIfUsable.checked = false;
    });
    retake.addEventListener("click", function () {
      fileInput.value = "";
      resetCheck();
      keep.disabled = false;
      if (stream) video.focus(); else fileInput.focus();
    });

    // Live camera only where the browser offers one (a secure context is required).
    if (!(navigator.mediaDevices && navigator.mediaDevices.getUserMedia && window.DataTransfer)) return;
    camera.hidden = false;
    updateGhost();
    start.addEventListener("click", function () {
      camError.hidden = true;
      navigator.mediaDevices.getUserMedia({
        video: { facingMode: "user", width: { ideal: 1920 }, height: { ideal: 1440 } }, audio: false,
      }).then(function (s) {
        stream = s;
        video.srcObject = s;
        return video.play();
      }).then(function () {
        shoot.disabled = false;
        start.textContent = "Camera on";
        start.disabled = true;
      }).catch(function (err) {
        camError.textContent = "The camera is not available (" + (err && err.name || "error") + "). Choose a file instead.";
        camError.hidden = false;
      });
    });
    shoot.addEventListener("click", function () {
      if (!stream || !video.videoWidth) return;
      canvas.width = video.videoWidth;
      canvas.height = video.videoHeight;
      canvas.getContext("2d").drawImage(video, 0, 0);
      canvas.toBlob(function (blob) {
        if (!blob) return;
        var file = new File([blob], "camera.jpg", { type: "image/jpeg" });
        var dt = new DataTransfer();
        dt.items.add(file);
        fileInput.files = dt.files;
        runCheck();
      }, "image/jpeg", 0.95);
    });
    window.addEventListener("pagehide", function () {
      if (stream) stream.getTracks().forEach(function (t) { t.stop(); });
    });
  }

  function initSlider(box) {
    var range = box.parentNode.querySelector("[data-slider-range]");
    if (!range) return;
    function update() { box.style.setProperty("--split", range.value + "%"); }
    range.addEventListener("input", update);
    update();
  }

  onReady(function () {
    document.querySelectorAll("form[data-capture]").forEach(initCapture);
    document.querySelectorAll("[data-slider]").forEach(initSlider);
  });
})();
