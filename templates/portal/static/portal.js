// The claim form's upload (R5): checks the invoice's size and type before sending, and shows
// the upload's progress. Without this script the form posts the same fields the same way.
"use strict";
(function () {
  var form = document.getElementById("claim-form");
  if (!form || !window.XMLHttpRequest || !window.FormData) { return; }
  var input = document.getElementById("invoice");
  var problem = document.getElementById("invoice-client-error");
  var box = document.getElementById("upload-progress");
  var bar = box.querySelector("progress");
  var label = document.getElementById("upload-progress-text");
  var maxBytes = parseInt(form.getAttribute("data-max-bytes"), 10);
  var types = ["application/pdf", "image/png", "image/jpeg"];
  var extensions = /\.(pdf|png|jpe?g|jpe)$/i;

  function show(message) {
    problem.textContent = message;
    problem.hidden = !message;
    if (message) { input.setAttribute("aria-invalid", "true"); } else { input.removeAttribute("aria-invalid"); }
  }

  function check() {
    var file = input.files && input.files[0];
    if (!file) { show(""); return true; }
    if (file.size > maxBytes) { show(form.getAttribute("data-too-large")); return false; }
    if ((file.type && types.indexOf(file.type) < 0) || (!file.type && !extensions.test(file.name))) {
      show(form.getAttribute("data-wrong-type")); return false;
    }
    show("");
    return true;
  }

  input.addEventListener("change", check);
  form.addEventListener("submit", function (event) {
    if (!check()) { event.preventDefault(); input.focus(); return; }
    event.preventDefault();
    var button = form.querySelector("button[type=submit]");
    button.disabled = true;  // D2: a second click sends nothing (the key would also catch it)
    box.hidden = false;
    var request = new XMLHttpRequest();
    request.open("POST", form.action);
    request.upload.addEventListener("progress", function (progress) {
      if (progress.lengthComputable) {
        var percent = Math.round(100 * progress.loaded / progress.total);
        bar.value = percent;
        label.textContent = percent + " %";
      }
    });
    request.addEventListener("load", function () {
      if (request.responseURL && request.responseURL !== form.action) {
        window.location.assign(request.responseURL);  // the claim's page (303 followed)
        return;
      }
      document.open();
      document.write(request.responseText);  // the form again, with the refusals at their fields
      document.close();
    });
    request.addEventListener("error", function () {
      button.disabled = false;
      box.hidden = true;
      show(form.getAttribute("data-failed"));
    });
    request.send(new FormData(form));
  });
})();
