// The booking wizard as one page: the server-rendered steps are shown one at a time, the progress is
// saved in localStorage on every change (restored after a refresh or in a new tab) and the booking is
// sent to the JSON API with the Idempotency-Key kept in that progress. Without this script the same
// page works as plain forms posted step by step.
import { getJson, postJson } from './api.js';
import { appointmentTime, rupees } from './format.js';
import { el, priceBreakdown } from './render.js';
import { choose } from './slot-picker.js';

const root = document.getElementById('wizard');
const STORAGE_KEY = root ? `clinic.wizard.${root.dataset.user}` : null;
const PATIENT_FIELDS = {
  name: 'patient-name',
  gender: 'patient-gender',
  dateOfBirth: 'patient-date-of-birth',
  phone: 'patient-phone',
  email: 'patient-email',
};

/**
 * The steps in order; a step is one entry here (plus its partial and its server entry): how to check
 * it, what to draw when it is shown, and its part of the booking's body.
 */
const STEPS = [
  { id: 'patient', check: checkPatient, enter: () => {}, body: () => ({ patient: state.patient }) },
  {
    id: 'services',
    check: checkServices,
    enter: drawServices,
    body: () => ({ serviceIds: state.serviceIds }),
  },
  { id: 'time', check: checkTime, enter: drawTime, body: () => ({ slotStart: state.slotStart }) },
  { id: 'summary', check: () => [], enter: drawSummary, body: () => ({}) },
];

let state;
let catalogue = null;

async function start() {
  // Entries just taken from an earlier booking (to book it again at another time) replace saved ones.
  state = (root.dataset.fresh === 'true' ? null : load()) ?? readPage();
  state.slotStart ??= '';
  writePatientFields();
  root.addEventListener('input', onEdit);
  root.addEventListener('change', onEdit);
  root.addEventListener('submit', onSubmit);
  root.addEventListener('click', onClick);
  // The saved step shows at once; the services list is drawn again once the catalogue is here.
  show(STEPS.some((step) => step.id === state.step) ? state.step : STEPS[0].id, { focus: false });
  const answer = await getJson('/api/services').catch(() => null);
  catalogue = answer?.status === 200 ? answer.body.services : null;
  if (state.step === 'services') drawServices();
  root.dataset.ready = 'true';
}

function newKey() {
  return crypto.randomUUID();
}

/** The first state, from what the server rendered (its session may hold entries already). */
function readPage() {
  const patient = {};
  for (const [key, id] of Object.entries(PATIENT_FIELDS)) patient[key] = document.getElementById(id).value;
  const serviceIds = [...root.querySelectorAll('input[name="serviceIds"]:checked')].map((box) => box.value);
  const slotStart = root.querySelector('.slot-picker')?.dataset.chosen ?? '';
  return {
    step: root.dataset.current,
    patient,
    serviceIds,
    slotStart,
    removed: [],
    idempotencyKey: newKey(),
  };
}

function load() {
  try {
    const saved = JSON.parse(localStorage.getItem(STORAGE_KEY));
    return saved && saved.patient && Array.isArray(saved.serviceIds) && saved.idempotencyKey ? saved : null;
  } catch {
    return null;
  }
}

function save() {
  localStorage.setItem(STORAGE_KEY, JSON.stringify(state));
}

function writePatientFields() {
  for (const [key, id] of Object.entries(PATIENT_FIELDS))
    document.getElementById(id).value = state.patient[key] ?? '';
}

const section = (id) => root.querySelector(`section[data-step="${id}"]`);
const stepIndex = (id) => STEPS.findIndex((step) => step.id === id);

/** Shows a step (drawing it first), marks it in the step navigation, keeps the URL in step. */
function show(id, { errors = [], focus = true } = {}) {
  state.step = id;
  save();
  for (const step of STEPS) section(step.id).hidden = step.id !== id;
  for (const link of root.querySelectorAll('nav a[data-step]')) {
    if (link.dataset.step === id) link.setAttribute('aria-current', 'step');
    else link.removeAttribute('aria-current');
  }
  history.replaceState(null, '', `/?step=${id}`);
  const step = STEPS[stepIndex(id)];
  showErrors(id, errors);
  void Promise.resolve(step.enter()).then(() => {
    if (!focus) return;
    const target =
      errors.length > 0 ? section(id).querySelector('.error-summary') : section(id).querySelector('h1');
    target?.setAttribute('tabindex', '-1');
    target?.focus();
  });
}

/** Goes to a step unless an earlier one is incomplete: then to that one, with its errors. */
function goTo(id) {
  for (const step of STEPS) {
    if (step.id === id) break;
    const errors = step.check();
    if (errors.length > 0) return show(step.id, { errors });
  }
  show(id);
}

function onEdit(event) {
  const target = event.target;
  if (target.closest('[data-step-form="patient"]')) {
    const key = Object.keys(PATIENT_FIELDS).find((k) => PATIENT_FIELDS[k] === target.id);
    if (!key) return;
    const before = state.patient.gender;
    state.patient[key] = target.value;
    if (key === 'gender' && target.value !== before) dropUnfitServices();
  } else if (target.name === 'serviceIds') {
    const chosen = new Set(state.serviceIds);
    if (target.checked) chosen.add(target.value);
    else chosen.delete(target.value);
    state.serviceIds = [...chosen];
    state.removed = [];
    drawTotal();
  } else if (target.name === 'slotStart') {
    state.slotStart = target.value;
  } else {
    return;
  }
  // Other answers make another booking: a new key, so a retry of the old one is never mistaken for it.
  state.idempotencyKey = newKey();
  save();
}

function onSubmit(event) {
  const form = event.target;
  const id = form.dataset.stepForm;
  if (!id) return;
  event.preventDefault();
  if (id === 'summary') return void confirmBooking(form);
  const index = stepIndex(id);
  if (event.submitter?.value === 'back') return show(STEPS[Math.max(0, index - 1)].id);
  const errors = STEPS[index].check();
  if (errors.length > 0) return show(id, { errors });
  show(STEPS[Math.min(STEPS.length - 1, index + 1)].id);
}

function onClick(event) {
  const link = event.target.closest('a[data-step], a[data-goto]');
  if (!link) return;
  event.preventDefault();
  goTo(link.dataset.step ?? link.dataset.goto);
  const focusId = link.dataset.focus;
  if (focusId && state.step === link.dataset.goto) document.getElementById(focusId)?.focus();
}

// --- Patient info

function checkPatient() {
  return Object.values(PATIENT_FIELDS).flatMap((id) => {
    const field = document.getElementById(id);
    const valid = field.checkValidity() && field.value.trim() !== '';
    return valid ? [] : [{ field: id, message: field.dataset.message }];
  });
}

// --- Services

const fits = (service) => service.gender === 'all' || service.gender === state.patient.gender;

function dropUnfitServices() {
  if (!catalogue) return;
  const unfit = catalogue.filter((service) => state.serviceIds.includes(service.id) && !fits(service));
  if (unfit.length === 0) return;
  state.serviceIds = state.serviceIds.filter((id) => !unfit.some((service) => service.id === id));
  state.removed = unfit.map((service) => service.name);
}

function checkServices() {
  if (state.serviceIds.length > 0) return [];
  return [{ field: 'services', message: section('services').querySelector('fieldset').dataset.message }];
}

/** The services that fit the patient (from the API), checked as saved, with the total. */
function drawServices() {
  const list = section('services').querySelector('.choices');
  for (const box of list.querySelectorAll('input[name="serviceIds"]'))
    box.checked = state.serviceIds.includes(box.value);
  if (catalogue) {
    const offered = catalogue.filter(fits);
    state.serviceIds = state.serviceIds.filter((id) => offered.some((service) => service.id === id));
    list.replaceChildren(
      ...offered.map((service) => {
        const id = `service-${service.id}`;
        return el(
          'li',
          { class: 'choice' },
          el('input', {
            type: 'checkbox',
            id,
            name: 'serviceIds',
            value: service.id,
            'data-price-paise': service.pricePaise,
            'aria-describedby': `${id}-hint`,
            checked: state.serviceIds.includes(service.id),
          }),
          el('label', { for: id }, service.name),
          el(
            'p',
            { class: 'hint', id: `${id}-hint` },
            el('span', { class: 'price' }, rupees(service.pricePaise)),
            ` · ${service.description}`,
          ),
        );
      }),
    );
  }
  const note = section('services').querySelector('.removed-note');
  note.replaceChildren(
    state.removed.length === 0
      ? ''
      : el(
          'p',
          { class: 'notice notice--warning' },
          `Taken off your choice because they are not offered for the gender you chose: ${state.removed.join(', ')}.`,
        ),
  );
  drawTotal();
}

function drawTotal() {
  const totalPaise = [...section('services').querySelectorAll('input[name="serviceIds"]:checked')].reduce(
    (sum, box) => sum + Number(box.dataset.pricePaise),
    0,
  );
  section('services').querySelector('.total strong').textContent = rupees(totalPaise);
}

// --- Date & time: views/partials/slot-picker.ejs, drawn by the server; public/js/slot-picker.js switches days

const picker = () => section('time').querySelector('.slot-picker');

/** A free time must be chosen: one of the picker's radios that is not disabled (full or too soon). */
function checkTime() {
  const radio = [...picker().querySelectorAll('input[name="slotStart"]')].find(
    (input) => input.value === state.slotStart,
  );
  if (radio && !radio.disabled) return [];
  return [{ field: picker().id, message: picker().dataset.message }];
}

function drawTime() {
  choose(picker(), state.slotStart);
}

// --- Summary

const GENDER_WORDS = { female: 'Female', male: 'Male', other: 'Other' };
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const calendarDate = (iso) => {
  const [year, month, day] = iso.split('-').map(Number);
  return `${day} ${MONTHS[month - 1]} ${year}`;
};

const booking = () => Object.assign({}, ...STEPS.map((step) => step.body()));

/** The check-your-answers list and the price from POST /api/quote (views/partials/wizard/summary-body.ejs). */
async function drawSummary() {
  const body = section('summary').querySelector('.summary-body');
  body.replaceChildren(el('p', {}, 'Working out the price…'));
  let answer;
  try {
    answer = await postJson('/api/quote', booking());
  } catch {
    body.replaceChildren(
      el(
        'p',
        { class: 'notice notice--bad' },
        'The price could not be fetched (no connection). Go back and come here again to retry.',
      ),
    );
    return;
  }
  if (answer.status !== 200) return refused(answer);
  const { quote } = answer.body;
  const row = (label, value, step, focus) =>
    el(
      'div',
      { class: 'check-answers__row' },
      el('dt', {}, label),
      el('dd', {}, value),
      el(
        'dd',
        { class: 'check-answers__change' },
        el(
          'a',
          { href: `/?step=${step}#${focus}`, 'data-goto': step, 'data-focus': focus },
          'Change',
          el('span', { class: 'visually-hidden' }, ` ${label.toLowerCase()}`),
        ),
      ),
    );
  const p = state.patient;
  body.replaceChildren(
    el('h2', {}, 'Patient'),
    el(
      'dl',
      { class: 'check-answers' },
      row('Full name', p.name, 'patient', 'patient-name'),
      row('Gender', GENDER_WORDS[p.gender] ?? p.gender, 'patient', 'patient-gender'),
      row('Date of birth', calendarDate(p.dateOfBirth), 'patient', 'patient-date-of-birth'),
      row('Phone', p.phone, 'patient', 'patient-phone'),
      row('Email', p.email, 'patient', 'patient-email'),
      row('Services', quote.services.map((s) => s.name).join(', '), 'services', 'services'),
      row('Appointment', appointmentTime(state.slotStart), 'time', picker().id),
    ),
    el('h2', {}, 'Price'),
    discountNotice(quote),
    priceBreakdown(quote.services, quote.pricing, { expected: true }),
  );
}

function discountNotice(quote) {
  if (quote.outcome === 'discount') {
    const why =
      quote.pricing.eligibility === 'birthday' ? 'happy birthday!' : 'the base price is above ₹1,000.00.';
    return el(
      'p',
      { class: 'notice' },
      `A discount of ${quote.pricing.discountPercent}% is expected: ${why}`,
    );
  }
  if (quote.outcome === 'quota_reached') {
    return el(
      'p',
      { class: 'notice notice--bad' },
      `Today's discounts are all taken (${quote.quota.used} of ${quote.quota.limit} used). This booking qualifies for a discount, so it would be rejected: ${quote.reason}`,
    );
  }
  return el('p', { class: 'notice' }, 'No discount applies to this booking.');
}

/** A 4xx from the quote or the booking: back to the step whose answer it names, with the message. */
function refused({ status, body }) {
  if (status === 401) {
    location.assign(`/login?next=${encodeURIComponent('/?step=summary')}`);
    return;
  }
  const error = body?.error ?? { message: 'Something went wrong. Please try again.' };
  const details = Array.isArray(error.details) ? error.details : [];
  const patientErrors = details.flatMap((detail) => {
    const key = String(detail.path ?? '').replace(/^patient\./, '');
    const id = String(detail.path ?? '').startsWith('patient.') ? PATIENT_FIELDS[key] : null;
    return id ? [{ field: id, message: document.getElementById(id).dataset.message }] : [];
  });
  if (patientErrors.length > 0) return show('patient', { errors: patientErrors });
  const slot = details.find((detail) => detail.path === 'slotStart');
  if (slot) {
    const message = `Date & time: that time cannot be booked (${slot.message}). Please choose another.`;
    return show('time', { errors: [{ field: picker().id, message }] });
  }
  if (status === 422 || details.some((detail) => detail.path === 'serviceIds' || detail.serviceId)) {
    const problems = details.map((detail) => detail.problem).filter(Boolean);
    return show('services', {
      errors: [{ field: 'services', message: `Services: ${[error.message, ...problems].join(' ')}` }],
    });
  }
  showErrors('summary', [{ field: null, message: error.message }]);
}

/** Sends the booking once per key: a double click or a retry after a network error makes one booking. */
async function confirmBooking(form) {
  const button = form.querySelector('button[type="submit"]');
  if (button.disabled) return;
  button.disabled = true;
  showErrors('summary', []);
  try {
    const answer = await postJson('/api/bookings', booking(), { 'idempotency-key': state.idempotencyKey });
    if (answer.status === 202) {
      localStorage.removeItem(STORAGE_KEY);
      location.assign(`/bookings/${answer.body.booking.id}`);
      return;
    }
    button.disabled = false;
    refused(answer);
  } catch {
    button.disabled = false;
    showErrors('summary', [
      {
        field: null,
        message:
          'The booking could not be sent (no connection). Your answers are kept: press Confirm booking again.',
      },
    ]);
  }
}

// --- Errors: views/partials/form-errors.ejs and field-error.ejs

function showErrors(id, errors) {
  const part = section(id);
  for (const old of part.querySelectorAll('.field-error')) old.remove();
  for (const field of part.querySelectorAll('.field--error')) field.classList.remove('field--error');
  for (const control of part.querySelectorAll('[aria-invalid]')) {
    control.removeAttribute('aria-invalid');
    const rest = (control.getAttribute('aria-describedby') ?? '')
      .split(' ')
      .filter((ref) => ref && !ref.endsWith('-error'));
    if (rest.length > 0) control.setAttribute('aria-describedby', rest.join(' '));
    else control.removeAttribute('aria-describedby');
  }
  const summary = part.querySelector('.step-errors');
  if (errors.length === 0) return summary.replaceChildren();
  summary.replaceChildren(
    el(
      'div',
      { class: 'error-summary', role: 'alert', 'aria-labelledby': `error-summary-${id}`, tabindex: '-1' },
      el('h2', { id: `error-summary-${id}` }, 'There is a problem'),
      el(
        'ul',
        {},
        errors.map((error) =>
          el('li', {}, error.field ? el('a', { href: `#${error.field}` }, error.message) : error.message),
        ),
      ),
    ),
  );
  for (const error of errors) {
    const control = error.field && document.getElementById(error.field);
    if (!control) continue;
    const wrapper = control.closest('.field') ?? control;
    wrapper.classList.add('field--error');
    const message = el(
      'p',
      { class: 'field-error', id: `${error.field}-error` },
      el('span', { class: 'visually-hidden' }, 'Error: '),
      error.message,
    );
    const label = wrapper.querySelector(':scope > label, :scope > legend');
    const hint = wrapper.querySelector(':scope > .hint');
    (hint ?? label)?.after(message);
    if (control.matches('input, select')) {
      control.setAttribute('aria-invalid', 'true');
      const refs = (control.getAttribute('aria-describedby') ?? '').split(' ').filter(Boolean);
      control.setAttribute('aria-describedby', [...refs, `${error.field}-error`].join(' '));
    }
  }
}

// Last: every constant above is initialised by the time the wizard starts.
if (root) start();
