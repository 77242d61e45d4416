// The ceiling the status endpoint is compared with: Express 5 answering JSON from one indexed
// PostgreSQL query, in a process of its own like the web. Started by test/bench/system.ts.
import type { AddressInfo } from 'node:net';
import express from 'express';
import pg from 'pg';

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 10 });
const app = express();
app.get('/one/:id', async (req, res) => {
  const { rows } = await pool.query('SELECT id, status, reference FROM booking.bookings WHERE id = $1', [
    req.params.id,
  ]);
  res.json({ booking: rows[0] ?? null });
});
const server = app.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${(server.address() as AddressInfo).port}\n`);
});
process.once('SIGTERM', () => {
  server.close();
  void pool.end();
});
