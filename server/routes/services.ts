import { Router } from 'express';
import { listServices } from '../../lib/catalogue/catalogue-service.js';
import type { Db } from '../../lib/db/database.js';

export function servicesApi(db: Db): Router {
  const router = Router();
  router.get('/services', async (_req, res) => {
    res.json({ services: await listServices(db) });
  });
  return router;
}
