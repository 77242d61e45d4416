import pg from 'pg';

/**
 * A connection of its own that LISTENs on a channel: connected and listening when it resolves (or
 * closed again and rejected). `lost` is called once if the connection fails or ends afterwards.
 */
export async function listenOn(
  databaseUrl: string,
  channel: string,
  on: { notification: (payload: string | undefined) => void; lost: (error?: Error) => void },
): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: databaseUrl });
  let done = false;
  const lost = (error?: Error) => {
    if (done) return;
    done = true;
    void client.end().catch(() => {});
    on.lost(error);
  };
  client.on('notification', (message) => on.notification(message.payload));
  try {
    await client.connect();
    await client.query(`LISTEN ${channel}`);
  } catch (error) {
    done = true;
    await client.end().catch(() => {});
    throw error;
  }
  client.on('error', lost);
  client.on('end', () => lost());
  return client;
}
