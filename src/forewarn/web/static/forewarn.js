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
  document.addEventListener("htmx:responseError", function (event) {
    var status = event.detail.xhr.status;
    if (status !== 401) {
      window.alert("The page could not be updated (error " + status + "). Please reload it.");
    }
  });
})();
