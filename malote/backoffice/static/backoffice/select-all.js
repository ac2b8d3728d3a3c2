// "Select all" checkboxes: <input type="checkbox" data-select-all="NAME"> checks or unchecks every
// input[name=NAME] of its form. A static file, not an inline handler: the Content-Security-Policy
// (docs/security.md) runs no inline script.
document.addEventListener("change", (event) => {
  const box = event.target;
  if (!(box instanceof HTMLInputElement) || !box.dataset.selectAll || !box.form) return;
  for (const other of box.form.querySelectorAll(`input[name="${CSS.escape(box.dataset.selectAll)}"]`)) {
    other.checked = box.checked;
  }
});
