// Copy buttons on code blocks: progressive enhancement, the code stays selectable without it.
function addCopyButtons(root) {
  root.querySelectorAll(".prose .highlight").forEach((block) => {
    if (block.querySelector(".copy")) return;
    const button = document.createElement("button");
    button.type = "button";
    button.className = "copy";
    button.textContent = "Copy";
    button.setAttribute("aria-label", "Copy this code");
    button.addEventListener("click", async () => {
      const text = block.querySelector("pre").innerText;
      try {
        await navigator.clipboard.writeText(text);
        button.textContent = "Copied";
      } catch (err) {
        // Clipboard access needs a secure context; select the text instead.
        const range = document.createRange();
        range.selectNodeContents(block.querySelector("pre"));
        const selection = window.getSelection();
        selection.removeAllRanges();
        selection.addRange(range);
        button.textContent = "Selected: press Ctrl-C";
      }
      setTimeout(() => { button.textContent = "Copy"; }, 2000);
    });
    block.prepend(button);
  });
}
document.addEventListener("DOMContentLoaded", () => addCopyButtons(document));
