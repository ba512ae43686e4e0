// The check-in page works without this: the steward types the code, or a handheld scanner types it.
// Where the browser can read QR codes itself (BarcodeDetector, e.g. Chrome on Android), this adds a button
// to scan with the phone's camera, fills in the code and submits the form. Nothing is loaded from elsewhere.
(function () {
  "use strict";
  var form = document.querySelector("form[data-check-in]");
  if (!form || !("BarcodeDetector" in window) || !navigator.mediaDevices) {
    return;
  }
  var input = form.querySelector("input[name=code]");
  var actions = form.querySelector(".actions");
  var button = document.createElement("button");
  button.type = "button";
  button.className = "button button-secondary";
  button.textContent = "Scan with the camera";
  var video = document.createElement("video");
  video.setAttribute("playsinline", "");
  video.setAttribute("aria-label", "Camera view for scanning the QR code");
  video.className = "scanner";
  video.hidden = true;
  actions.appendChild(button);
  form.insertBefore(video, actions);

  button.addEventListener("click", function () {
    var detector = new window.BarcodeDetector({ formats: ["qr_code"] });
    navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } }).then(function (stream) {
      video.srcObject = stream;
      video.hidden = false;
      video.play();
      button.disabled = true;
      var look = function () {
        detector.detect(video).then(function (codes) {
          if (codes.length) {
            stream.getTracks().forEach(function (track) { track.stop(); });
            input.value = codes[0].rawValue;
            form.submit();
          } else {
            window.requestAnimationFrame(look);
          }
        }).catch(function () { window.requestAnimationFrame(look); });
      };
      look();
    }).catch(function () {
      button.disabled = true;
      button.textContent = "The camera is not available: type the code";
    });
  });
})();
