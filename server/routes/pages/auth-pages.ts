import { Router } from 'express';
import { loginInput, loginWithLimits, logOut, signupWithLimits, type AuthDeps } from '../auth.js';
import { parse } from '../../middleware/validate.js';
import { formBody, formErrors, safeNext, shownText, type FieldLabels } from './forms.js';

const LOGIN_FIELDS: FieldLabels = {
  email: { id: 'email', label: 'Email' },
  password: { id: 'password', label: 'Password' },
};
const SIGNUP_FIELDS: FieldLabels = { name: { id: 'name', label: 'Full name' }, ...LOGIN_FIELDS };

/** A form's missing fields read as empty ones (a doubled field stays an array, and is refused). */
function withEmpty(body: Record<string, unknown>, names: string[]): Record<string, unknown> {
  return { ...Object.fromEntries(names.map((name) => [name, ''])), ...body };
}

/** Sign-up, log-in and log-out pages, validated by the API's schemas. */
export function authPages(deps: AuthDeps): Router {
  const router = Router();

  router.get('/login', (req, res) => {
    res.render('pages/login', { title: 'Log in', next: safeNext(req.query.next), errors: [], values: {} });
  });

  router.post('/login', async (req, res) => {
    const body = formBody(req);
    const next = safeNext(body.next);
    try {
      const input = parse(
        loginInput,
        withEmpty(body, ['email', 'password']),
        'Please enter your email and password.',
      );
      await loginWithLimits(deps, req, input);
      res.redirect(303, next);
    } catch (error) {
      const { status, errors } = formErrors(res, error, LOGIN_FIELDS);
      res.status(status).render('pages/login', {
        title: 'Log in',
        next,
        errors,
        values: { email: shownText(body.email) },
      });
    }
  });

  router.get('/signup', (req, res) => {
    res.render('pages/signup', {
      title: 'Create an account',
      next: safeNext(req.query.next),
      errors: [],
      values: {},
    });
  });

  router.post('/signup', async (req, res) => {
    const body = formBody(req);
    const next = safeNext(body.next);
    try {
      await signupWithLimits(deps, req, withEmpty(body, ['name', 'email', 'password']));
      res.redirect(303, next);
    } catch (error) {
      const { status, errors } = formErrors(res, error, SIGNUP_FIELDS);
      res.status(status).render('pages/signup', {
        title: 'Create an account',
        next,
        errors,
        values: { name: shownText(body.name), email: shownText(body.email) },
      });
    }
  });

  router.post('/logout', async (req, res) => {
    if (req.user) await logOut(req);
    // The wizard's saved progress (localStorage) holds a patient's details: it goes with the session.
    res.setHeader('Clear-Site-Data', '"storage"');
    res.redirect(303, '/');
  });

  return router;
}
