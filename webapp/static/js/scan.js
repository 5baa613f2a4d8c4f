// The in-app QR scanner (step 7): the camera, BarcodeDetector where the browser has it,
// otherwise the vendored jsQR. On the first good read of this site's pairing URL it goes there.
(function () {
  "use strict";

  function loadScript(src) {
    return new Promise(function (resolve, reject) {
      var script = document.createElement("script");
      script.src = src;
      script.onload = resolve;
      script.onerror = reject;
      document.head.appendChild(script);
    });
  }

  // The messages, in the page's language: the server renders them into <template id="scan-messages">.
  function message(key) {
    var messages = document.getElementById("scan-messages");
    var found = messages && messages.content.querySelector('[data-message="' + key + '"]');
    return found ? found.textContent.trim() : "";
  }

  function setup(root) {
    var video = document.getElementById("scanner-video");
    var status = document.getElementById("scan-status");
    var button = document.getElementById("scan-start");
    var stream = null;
    var paired = false;

    function say(message) { status.textContent = message; }

    function stop() {
      if (stream) { stream.getTracks().forEach(function (track) { track.stop(); }); }
      stream = null;
    }

    // Only this site's pairing URL is followed; anything else in a QR code is ignored.
    function pairingUrl(text) {
      var url;
      try { url = new URL(text); } catch (e) { return null; }
      var path = root.dataset.pairPath;
      return url.origin === location.origin && url.pathname.indexOf(path) === 0 &&
        url.pathname.length > path.length ? url.href : null;
    }

    function withJsQR() {
      return loadScript(root.dataset.jsqr).then(function () {
        var canvas = document.createElement("canvas");
        var context = canvas.getContext("2d", { willReadFrequently: true });
        function detect() {
          var width = video.videoWidth, height = video.videoHeight;
          if (!width) { return Promise.resolve(null); }
          canvas.width = width;
          canvas.height = height;
          context.drawImage(video, 0, 0, width, height);
          var code = window.jsQR(context.getImageData(0, 0, width, height).data, width, height,
                                 { inversionAttempts: "dontInvert" });
          return Promise.resolve(code ? code.data : null);
        }
        detect.decoder = "jsQR";
        return detect;
      });
    }

    function detector() {
      if (!("BarcodeDetector" in window)) { return withJsQR(); }
      return window.BarcodeDetector.getSupportedFormats().then(function (formats) {
        if (formats.indexOf("qr_code") < 0) { return withJsQR(); }
        var barcodes = new window.BarcodeDetector({ formats: ["qr_code"] });
        function detect() {
          return barcodes.detect(video).then(function (codes) { return codes.length ? codes[0].rawValue : null; });
        }
        detect.decoder = "BarcodeDetector";
        return detect;
      }, withJsQR);
    }

    function scan(detect) {
      if (paired || !stream) { return; }
      detect().then(function (text) {
        var url = text && pairingUrl(text);
        if (url) {
          paired = true;
          stop();
          say(message("read"));
          location.assign(url);
          return;
        }
        if (text) { say(message("foreign")); }
        setTimeout(function () { scan(detect); }, 150);
      }, function () { setTimeout(function () { scan(detect); }, 300); });
    }

    function refused(error) {
      stop();
      root.hidden = true;
      button.hidden = false;
      var why = !error ? message("no-camera-api")
        : error.name === "NotAllowedError" ? message("not-allowed")
        : error.name === "NotFoundError" ? message("not-found")
        : message("camera-broken");
      say(why + " " + message("type-the-code"));
    }

    function start() {
      if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) { refused(null); return; }
      button.hidden = true;
      say(message("asking"));
      navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false })
        .then(function (camera) {
          stream = camera;
          video.srcObject = camera;
          root.hidden = false;
          return video.play();
        })
        .then(detector)
        .then(function (detect) {
          root.dataset.decoder = detect.decoder;
          say(message("aim"));
          scan(detect);
        })
        .catch(refused);
    }

    button.addEventListener("click", start);
    window.addEventListener("pagehide", stop);
    start();
  }

  document.addEventListener("DOMContentLoaded", function () {
    var root = document.getElementById("scanner");
    if (root) { setup(root); }
  });
})();
