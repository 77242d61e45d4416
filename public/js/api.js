// The JSON API as the pages use it: a CSRF token fetched once (and again if refused), JSON both ways.
let csrfToken = null;

async function token(fresh = false) {
  if (!csrfToken || fresh) {
    const res = await fetch('/api/csrf-token', { credentials: 'same-origin' });
    csrfToken = (await res.json()).token;
  }
  return csrfToken;
}

/** GET a JSON resource: `{ status, body }`; a network failure throws. */
export async function getJson(url) {
  const res = await fetch(url, { credentials: 'same-origin', headers: { accept: 'application/json' } });
  return { status: res.status, body: await res.json().catch(() => null) };
}

/** POST JSON with the CSRF token: `{ status, body }`; a network failure throws. */
export async function postJson(url, data, headers = {}) {
  for (const fresh of [false, true]) {
    const res = await fetch(url, {
      method: 'POST',
      credentials: 'same-origin',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json',
        'x-csrf-token': await token(fresh),
        ...headers,
      },
      body: JSON.stringify(data),
    });
    const body = await res.json().catch(() => null);
    // A token bound to an older session (e.g. after a login in another tab) is fetched again once.
    if (res.status === 403 && body?.error?.code === 'csrf_invalid' && !fresh) continue;
    return { status: res.status, body };
  }
  throw new Error('unreachable');
}
