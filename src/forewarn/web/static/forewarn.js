// Small helpers for the dashboard. Pages work without them; htmx does the partial updates.
(function () {
  "use strict";

  // "Copy" buttons: data-copy names the field whose value goes to the clipboard.
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (!button) return;
    var field = document.querySelector(button.getAttribute("data-copy"));
    if (!field) return;
    field.select();
    var done = function () {
      button.textContent = "Copied";
      setTimeout(function () { button.textContent = "Copy"; }, 2000);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(field.value).then(done);
    } else if (document.execCommand("copy")) {
      done();
    }
  });

  // A read-only link field selects itself, so it can be copied by hand too.
  document.addEventListener("focusin", function (event) {
    if (event.target.matches("[data-select-on-focus]")) event.target.select();
  });

  // A file over the server's upload limit would be refused only after the whole upload;
  // say so before sending it. data-max-bytes holds the limit, data-too-large the message.
  document.addEventListener("submit", function (event) {
    var input = event.target.querySelector("input[type=file][data-max-bytes]");
    if (!input || !input.files || !input.files.length) return;
    if (input.files[0].size <= Number(input.getAttribute("data-max-bytes"))) return;
    event.preventDefault();
    var error = document.getElementById(input.id + "-error");
    if (error) {
      error.querySelector("[data-error-text]").textContent = input.getAttribute("data-too-large");
      error.hidden = false;
      input.setAttribute("aria-describedby", input.id + "-hint " + input.id + "-error");
    }
    input.setAttribute("aria-invalid", "true");
    input.closest(".field").classList.add("has-error");
    input.focus();
  });

  // A newly chosen file within the limit clears the message about the previous one.
  document.addEventListener("change", function (event) {
    var input = event.target;
    if (!input.matches("input[type=file][data-max-bytes]") || !input.files.length) return;
    if (input.files[0].size > Number(input.getAttribute("data-max-bytes"))) return;
    var error = document.getElementById(input.id + "-error");
    if (error) error.hidden = true;
    input.removeAttribute("aria-invalid");
    input.setAttribute("aria-describedby", input.id + "-hint");
    input.closest(".field").classList.remove("has-error");
  });

  // Filter forms send empty fields too; leave them out so shared URLs stay short and clear.
  document.addEventListener("htmx:configRequest", function (event) {
    var data = event.detail.formData;
    if (event.detail.verb !== "get" || !data) return;
    Array.from(new Set(data.keys())).forEach(function (key) {
      if (data.getAll(key).every(function (v) { return v === ""; })) data.delete(key);
    });
  });

  // An htmx request that needs a fresh login answers 401 with HX-Redirect; htmx follows it.
  // Other failures would otherwise pass silently: say so instead of leaving a stale table.
  // A live region that polls (data-live) tries again on its next turn; no alert every 30 s.
  document.addEventListener("htmx:responseError", function (event) {
    var status = event.detail.xhr.status;
    if (event.detail.elt && event.detail.elt.closest("[data-live]")) return;
    if (status !== 401) {
      window.alert("The page could not be updated (error " + status + "). Please reload it.");
    }
  });
})();
