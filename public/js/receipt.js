// The receipt page: a Print button, shown only where the script runs.
const button = document.getElementById('print-receipt');
if (button) {
  button.hidden = false;
  button.addEventListener('click', () => window.print());
}
