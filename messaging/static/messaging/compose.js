// Live SMS analysis in the compose form: encoding, parts, cost, and one-click replacement of
// the characters that force the expensive UCS-2 encoding. The server computes it
// (/api/messaging/sms/analyse), so the page and the API never disagree. Texts come from the
// page (data-t-* attributes, translated by Django), never from this file.
(function () {
  "use strict";
  const form = document.getElementById("compose");
  const textarea = form && form.querySelector("#id_sms_body");
  const out = document.getElementById("sms-analysis");
  if (!form || !textarea || !out) return;
  const token = form.querySelector("input[name=csrfmiddlewaretoken]").value;
  const t = out.dataset;
  let timer = null;
  let last = null;
  let replacedText = null;

  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, (_, key) => String(values[key]));
  }

  const summary = document.getElementById("sms-summary");
  const details = document.getElementById("sms-forcing");

  // Only the summary sentence is a live region: the replacement buttons are rebuilt silently.
  function render(a) {
    details.replaceChildren();
    summary.textContent = fill(t.tSummary, {
      characters: a.characters,
      encoding: a.encoding,
      segments: a.segments,
      remaining: a.remaining,
      cost: a.cost.replace(".", ","),
    });
    if (a.too_long) {
      const warn = document.createElement("p");
      warn.className = "field-error";
      warn.textContent = t.tTooLong;
      details.append(warn);
    }
    const replaceable = a.forcing.filter((f) => f.replacement !== null);
    if (a.forcing.length) {
      const intro = document.createElement("p");
      intro.textContent = fill(t.tForcing, { segments: a.segments_if_replaced });
      details.append(intro);
      const list = document.createElement("ul");
      for (const f of a.forcing) {
        const item = document.createElement("li");
        const code = document.createElement("code");
        const invisible = /\s|[\u200b\ufeff]/.test(f.char);
        code.textContent = invisible ? f.name.toLowerCase() : f.char;
        item.append(code, " ", fill(t.tCount, { count: f.count }), " ");
        if (f.replacement !== null) {
          const button = document.createElement("button");
          button.type = "button";
          button.className = "small";
          button.dataset.char = f.char;
          button.dataset.replacement = f.replacement;
          button.textContent = fill(t.tReplace, {
            replacement: f.replacement === " " ? t.tSpace : f.replacement,
          });
          item.append(button);
        } else {
          item.append(t.tNoReplacement);
        }
        list.append(item);
      }
      details.append(list);
      if (replaceable.length > 1) {
        const all = document.createElement("button");
        all.type = "button";
        all.className = "small";
        all.dataset.all = "1";
        all.textContent = t.tReplaceAll;
        details.append(all);
      }
    }
    replacedText = a.replaced_text;
    out.hidden = false;
  }

  async function analyse() {
    const text = textarea.value;
    if (text === last) return;
    last = text;
    if (!text) {
      out.hidden = true;
      return;
    }
    try {
      const response = await fetch(form.dataset.analyseUrl, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": token },
        body: JSON.stringify({ text: text }),
      });
      if (response.ok && textarea.value === text) render(await response.json());
    } catch (error) {
      // Offline or the server is away: the preview step shows the same figures.
    }
  }

  textarea.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(analyse, 250);
  });
  out.addEventListener("click", (event) => {
    const button = event.target.closest("button");
    if (!button) return;
    if (button.dataset.all) {
      textarea.value = replacedText;
    } else if (button.dataset.char) {
      textarea.value = textarea.value.split(button.dataset.char).join(button.dataset.replacement);
    }
    analyse();
    textarea.focus();
  });
  analyse();
})();
