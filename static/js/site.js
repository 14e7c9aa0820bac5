// Copy buttons on code blocks: progressive enhancement, the code stays selectable without it.
// The button goes in a bar above the code, never over it; a status line tells screen
// readers what happened, since a changed button label is not announced.
function codeBar(block) {
  const bar = document.createElement("div");
  bar.className = "code-bar";
  const code = block.querySelector("code");
  const language = code ? code.className.replace(/^language-/, "") : "";
  if (language && language !== "text") {
    const label = document.createElement("span");
    label.className = "lang";
    label.setAttribute("aria-hidden", "true"); // the code region's name already says it
    label.textContent = language;
    bar.append(label);
  }
  return bar;
}

function addCopyButtons(root) {
  root.querySelectorAll(".prose .highlight").forEach((block) => {
    if (block.querySelector(".copy")) return;
    const pre = block.querySelector("pre");
    const bar = codeBar(block);
    const button = document.createElement("button");
    button.type = "button";
    button.className = "copy";
    button.textContent = "Copy";
    const status = document.createElement("span");
    status.className = "sr";
    status.setAttribute("role", "status");
    button.addEventListener("click", async () => {
      try {
        await navigator.clipboard.writeText(pre.innerText);
        button.textContent = "Copied";
        status.textContent = "Code copied to the clipboard";
      } catch (err) {
        // Clipboard access needs a secure context; select the text instead.
        const range = document.createRange();
        range.selectNodeContents(pre);
        const selection = window.getSelection();
        selection.removeAllRanges();
        selection.addRange(range);
        button.textContent = "Selected: press Ctrl-C";
        status.textContent = "Code selected: press Control C to copy it";
      }
      setTimeout(() => {
        button.textContent = "Copy";
        status.textContent = "";
      }, 2000);
    });
    bar.append(button, status);
    block.prepend(bar);
  });
}
document.addEventListener("DOMContentLoaded", () => addCopyButtons(document));
// Code that htmx swaps in later (the sizing calculator's files) gets its buttons too.
document.addEventListener("htmx:afterSettle", () => addCopyButtons(document));

// Predict, then run: a demo that answers a checkpoint waits until the learner's guess is
// locked in (the box above it then says data-committed). The server refuses a run
// without a guess anyway; this only keeps the button honest. Buttons of a run already
// shown (cancel, compare) are left alone.
function syncPredictions(root) {
  root.querySelectorAll(".predict-wrap").forEach((wrap) => {
    const committed = Boolean(wrap.querySelector(".predict[data-committed]"));
    const locked = String(!committed);
    if (wrap.dataset.locked === locked) return; // act on changes only, never mid-request
    wrap.dataset.locked = locked;
    wrap.querySelectorAll(".demo form button").forEach((button) => {
      if (button.closest(".demo-out, .recent")) return;
      if (!committed) {
        button.disabled = true;
        button.dataset.needsPrediction = "";
      } else if ("needsPrediction" in button.dataset) {
        button.disabled = false;
        delete button.dataset.needsPrediction;
        button.removeAttribute("aria-describedby");
      }
    });
    wrap.querySelectorAll(".needs").forEach((note) => {
      note.hidden = committed;
    });
  });
}

// "What you should see" stays closed until the demo above it has a finished result:
// a run that is done (or failed, or was cancelled), any other demo's answer, or the
// figure measured for its checkpoint.
const FINISHED = ["done", "failed", "cancelled"].map((s) => `:not([data-status="${s}"])`).join("");

function demoFinished(section) {
  // A figure measured beside the guess means the demo has had its say.
  if (document.querySelector(`#${section.id}-predict .verdict`)) return true;
  const out = section.querySelector(".demo-out");
  if (!out || !out.children.length) return false;
  return !out.querySelector(`.run${FINISHED}`);
}

function openSeeBoxes(finishedDemo) {
  document.querySelectorAll("details.see[data-demo]:not([open])").forEach((box) => {
    const section = document.getElementById(box.dataset.demo);
    if (section && (box.dataset.demo === finishedDemo || demoFinished(section))) box.open = true;
  });
}

// Shift + Left / Right: previous and next lesson, never while typing in a field.
function lessonKeys(event) {
  if (!event.shiftKey || event.altKey || event.ctrlKey || event.metaKey) return;
  if (event.key !== "ArrowLeft" && event.key !== "ArrowRight") return;
  const target = event.target;
  if (target.isContentEditable || target.closest("input, textarea, select")) return;
  const rel = event.key === "ArrowLeft" ? "prev" : "next";
  const link = document.querySelector(`.prev-next a[rel=${rel}]`);
  if (!link) return;
  event.preventDefault();
  window.location.assign(link.href);
}

function followLearning() {
  syncPredictions(document);
  openSeeBoxes();
}
document.addEventListener("DOMContentLoaded", followLearning);
document.addEventListener("htmx:afterSettle", followLearning);
document.addEventListener("htmx:oobAfterSwap", followLearning);
document.addEventListener("runDone", (event) => {
  const section = event.target.closest && event.target.closest("section.demo");
  openSeeBoxes(section ? section.id : undefined);
});
document.addEventListener("keydown", lessonKeys);
