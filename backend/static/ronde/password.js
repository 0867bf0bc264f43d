// The live checklist beside a new password: the server's own rules (tenants' password policy),
// asked while typing, without storing anything. Works without JavaScript too: the server
// refuses a weak password with the same words.
(function () {
  "use strict";
  function setup(form) {
    const input = form.querySelector('input[name$="password"][autocomplete="new-password"]');
    const list = input && form.querySelector('[data-checklist-for="' + input.id + '"]');
    if (!list) return;
    const token = form.querySelector('input[name="csrfmiddlewaretoken"]').value;
    const email = form.querySelector('input[type="email"]');
    const surname = form.querySelector('input[name="surname"]');
    let timer = null;
    let sequence = 0;
    function render(rules) {
      rules.forEach(function (rule) {
        const item = list.querySelector('[data-rule="' + rule.key + '"]');
        if (item) {
          item.classList.toggle("ok", rule.ok);
          item.classList.toggle("ko", !rule.ok);
          item.setAttribute("data-state", rule.ok ? "ok" : "ko");
        }
      });
    }
    function ask() {
      const mine = ++sequence;
      const body = new URLSearchParams({
        password: input.value,
        email: email ? email.value : "",
        surname: surname ? surname.value : "",
      });
      fetch(list.closest("form").dataset.checkUrl || "/locataire/mot-de-passe/verifier/", {
        method: "POST",
        headers: { "X-CSRFToken": token, "Content-Type": "application/x-www-form-urlencoded" },
        body: body,
        credentials: "same-origin",
      })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (data) { if (data && mine === sequence) render(data.rules); })
        .catch(function () {});
    }
    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(ask, 250);
    });
  }
  document.querySelectorAll("form[data-password-form]").forEach(setup);
})();
