// The app's routes as Express 5's router stack holds them: "METHOD /path" for every route, with the
// paths of the routers they are mounted under, so a test can tell when a route has no entry of its own.
import type { Express } from 'express';

interface Layer {
  rawPath?: unknown;
  route?: { path: unknown; methods: Record<string, boolean> };
  handle?: { stack?: Layer[] };
}

const paths = (raw: unknown): string[] =>
  Array.isArray(raw) ? raw.map(String) : typeof raw === 'string' ? [raw] : [''];

const join = (prefix: string, path: string) =>
  `${prefix.replace(/\/$/, '')}${path === '/' ? '' : path}` || '/';

function walk(stack: Layer[], prefix: string, into: Set<string>): void {
  for (const layer of stack) {
    if (layer.route) {
      for (const path of paths(layer.route.path))
        for (const method of Object.keys(layer.route.methods))
          if (method !== '_all') into.add(`${method.toUpperCase()} ${join(prefix, path)}`);
    } else if (layer.handle?.stack) {
      for (const path of paths(layer.rawPath)) walk(layer.handle.stack, join(prefix, path), into);
    }
  }
}

export function routeTable(app: Express): string[] {
  const router = (app as unknown as { router: { stack: Layer[] } }).router;
  const routes = new Set<string>();
  walk(router.stack, '', routes);
  return [...routes].sort();
}
