// The slot picker (views/partials/slot-picker.ejs) without reloads: a day's link shows that day's
// times in place and moves focus to them; the page's URL keeps the day, so a refresh shows it again.
// Without this script each day's link loads the page with that day.
//
// The chosen time stays checked while other days are shown; its day's link names it.

const panels = (picker) => [...picker.querySelectorAll('fieldset[data-day]')];
const radioOf = (picker, start) =>
  [...picker.querySelectorAll('input[type="radio"]')].find((radio) => radio.value === start) ?? null;

function markChosen(picker, start) {
  picker.dataset.chosen = start;
  const radio = radioOf(picker, start);
  const time = radio ? radio.labels[0].firstChild.textContent.trim() : '';
  for (const link of picker.querySelectorAll('a[data-day]')) {
    const chosen = radio && radio.closest('fieldset[data-day]').dataset.day === link.dataset.day;
    link.querySelector('.slot-days__chosen').textContent = chosen ? `${time} chosen` : '';
  }
}

/** Shows one day's times in a picker and marks its link. */
export function showDay(picker, date) {
  const panel = panels(picker).find((set) => set.dataset.day === date);
  if (!panel) return null;
  for (const set of panels(picker)) set.hidden = set !== panel;
  for (const link of picker.querySelectorAll('a[data-day]')) {
    if (link.dataset.day === date) link.setAttribute('aria-current', 'true');
    else link.removeAttribute('aria-current');
  }
  return panel;
}

/** Makes that start the chosen time (none when '') and shows its day. */
export function choose(picker, start) {
  for (const radio of picker.querySelectorAll('input[type="radio"]')) radio.checked = radio.value === start;
  markChosen(picker, start);
  const radio = start ? radioOf(picker, start) : null;
  if (radio) showDay(picker, radio.closest('fieldset[data-day]').dataset.day);
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

function onChange(event) {
  if (event.target.matches('input[type="radio"]')) markChosen(event.currentTarget, event.target.value);
}

for (const picker of document.querySelectorAll('.slot-picker')) {
  picker.addEventListener('click', onClick);
  picker.addEventListener('change', onChange);
}
