import type { AddressInfo } from 'node:net';
import type { Express } from 'express';
import supertest from 'supertest';
import { createWebServer } from '../../server/http-server.js';

/** The app behind the web's own HTTP server (server/http-server.ts), listening on a free port. */
export async function serve(app: Express): Promise<{ url: string; close(): Promise<void> }> {
  const server = createWebServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/**
 * A browser-like client: keeps cookies, fetches a CSRF token and sends it on every change.
 * post/put/patch resolve to the response; assert on `res.status` and `res.body`.
 */
export class Client {
  readonly agent: ReturnType<typeof supertest.agent>;
  private token: string | null = null;

  /** An in-process app, or the base URL of a running web process. */
  constructor(app: Express | string) {
    this.agent = supertest.agent(app);
  }

  async csrf(): Promise<string> {
    const res = await this.agent.get('/api/csrf-token').expect(200);
    this.token = (res.body as { token: string }).token;
    return this.token;
  }

  private async send(
    method: 'post' | 'put' | 'patch' | 'delete',
    path: string,
    body?: object,
    headers: Record<string, string> = {},
  ) {
    const token = this.token ?? (await this.csrf());
    let request = this.agent[method](path).set('x-csrf-token', token);
    for (const [name, value] of Object.entries(headers)) request = request.set(name, value);
    return body === undefined ? request : request.send(body);
  }

  post(path: string, body?: object, headers?: Record<string, string>) {
    return this.send('post', path, body, headers);
  }
  put(path: string, body?: object) {
    return this.send('put', path, body);
  }
  patch(path: string, body?: object) {
    return this.send('patch', path, body);
  }
  get(path: string) {
    return this.agent.get(path);
  }

  /** Signs up (or logs in) and refreshes the CSRF token, since login regenerates the session. */
  async signup(user: { name: string; email: string; password: string }) {
    await this.csrf();
    const res = await this.post('/api/auth/signup', user);
    if (res.status !== 201) throw new Error(`signup answered ${res.status}: ${JSON.stringify(res.body)}`);
    await this.csrf();
    return res.body.user as { id: string; email: string; name: string; role: string };
  }

  async login(credentials: { email: string; password: string }) {
    await this.csrf();
    const res = await this.post('/api/auth/login', credentials);
    if (res.status !== 200) throw new Error(`login answered ${res.status}: ${JSON.stringify(res.body)}`);
    await this.csrf();
    return res.body.user as { id: string; email: string; name: string; role: string };
  }
}
