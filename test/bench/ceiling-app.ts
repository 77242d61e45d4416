// The ceilings the status endpoint is compared with, in a process of their own like the web, started
// by the benchmarks: Express 5 answering JSON from one indexed PostgreSQL query (`/one/:id`), and the
// same behind the session stack the web must use: express-session in Redis (connect-redis) and
// passport's session (`/session/:id`, after `POST /login`). The second shows what that stack costs.
import type { AddressInfo } from 'node:net';
import { RedisStore } from 'connect-redis';
import express, { type RequestHandler } from 'express';
import session from 'express-session';
import { Redis } from 'ioredis';
import passport from 'passport';
import pg from 'pg';

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 10 });
const redis = new Redis(process.env.REDIS_URL!);
const app = express();

const oneQuery: RequestHandler = async (req, res) => {
  const { rows } = await pool.query('SELECT id, status, reference FROM booking.bookings WHERE id = $1', [
    req.params.id,
  ]);
  res.json({ booking: rows[0] ?? null });
};
app.get('/one/:id', oneQuery);

const user: Express.User = {
  id: 'ceiling-user',
  email: 'ceiling@example.com',
  name: 'Ceiling',
  role: 'user',
  sessionVersion: 1,
};
passport.serializeUser((who, done) => done(null, who.id));
passport.deserializeUser((id, done) => done(null, id === user.id ? user : false));
const sessions = express.Router();
sessions.use(
  session({
    name: 'ceiling.sid',
    store: new RedisStore({ client: redis, prefix: `${process.env.REDIS_PREFIX ?? ''}ceiling-sess:` }),
    secret: 'ceiling-of-the-session-stack',
    resave: false,
    saveUninitialized: false,
    rolling: true,
  }),
);
sessions.use(passport.initialize({ compat: false }));
sessions.use(passport.session());
sessions.post('/login', (req, res, next) => req.login(user, (error) => (error ? next(error) : res.json({}))));
sessions.get('/session/:id', (req, res, next) =>
  req.user ? oneQuery(req, res, next) : res.status(401).json({ error: 'unauthorized' }),
);
app.use(sessions);

const server = app.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${(server.address() as AddressInfo).port}\n`);
});
process.once('SIGTERM', () => {
  server.close();
  redis.disconnect();
  void pool.end();
});
