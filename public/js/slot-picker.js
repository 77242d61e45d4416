// The slot picker (views/partials/slot-picker.ejs) without reloads: a day's link shows that day's
// times in place and moves focus to them; the page's URL keeps the day, so a refresh shows it again.
// Without this script each day's link loads the page with that day.

/** Shows one day's times in a picker and marks its link. */
export function showDay(picker, date) {
  const panel = [...picker.querySelectorAll('fieldset[data-day]')].find((set) => set.dataset.day === date);
  if (!panel) return null;
  for (const set of picker.querySelectorAll('fieldset[data-day]')) set.hidden = set !== panel;
  for (const link of picker.querySelectorAll('a[data-day]')) {
    if (link.dataset.day === date) link.setAttribute('aria-current', 'true');
    else link.removeAttribute('aria-current');
  }
  return panel;
}

/** Checks the radio of that start (none when '') and shows its day. */
export function choose(picker, start) {
  for (const radio of picker.querySelectorAll('input[type="radio"]')) radio.checked = radio.value === start;
  const checked = picker.querySelector('input[type="radio"]:checked');
  if (checked) showDay(picker, checked.closest('fieldset[data-day]').dataset.day);
}

function onClick(event) {
  const link = event.target.closest('a[data-day]');
  if (!link || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) return;
  const picker = link.closest('.slot-picker');
  const panel = showDay(picker, link.dataset.day);
  if (!panel) return;
  event.preventDefault();
  const url = new URL(location.href);
  url.searchParams.set('day', link.dataset.day);
  url.hash = '';
  history.replaceState(history.state, '', url);
  panel.focus();
}

for (const picker of document.querySelectorAll('.slot-picker')) picker.addEventListener('click', onClick);
