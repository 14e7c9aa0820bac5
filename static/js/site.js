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
