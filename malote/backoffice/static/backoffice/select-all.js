// "Select all" checkboxes: <input type="checkbox" data-select-all="NAME"> checks or unchecks every
// input[name=NAME] of its form (the form's elements: also those outside it tied by form="…").
// A static file, not an inline handler: the Content-Security-Policy (docs/security.md) runs no
// inline script.
document.addEventListener("change", (event) => {
  const box = event.target;
  if (!(box instanceof HTMLInputElement) || !box.dataset.selectAll || !box.form) return;
  for (const other of box.form.elements) {
    if (other instanceof HTMLInputElement && other.name === box.dataset.selectAll) other.checked = box.checked;
  }
});
