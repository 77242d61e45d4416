import { errorFields, logger } from './logger.js';

type Closer = { name: string; close: () => Promise<unknown> | unknown };

/**
 * Graceful shutdown: on SIGTERM/SIGINT stop taking new work, drain, then close pools, in the order
 * registered, within a hard deadline (25 s, under Heroku's 30 s). A second signal is ignored.
 */
export class Lifecycle {
  private readonly closers: Closer[] = [];
  private stopping: Promise<void> | null = null;

  constructor(private readonly deadlineMs = 25_000) {}

  /** Register in start order; closing runs in the same order (stop intake first, pools last). */
  onShutdown(name: string, close: () => Promise<unknown> | unknown): void {
    this.closers.push({ name, close });
  }

  installSignalHandlers(): void {
    const handle = (signal: NodeJS.Signals) => {
      if (this.stopping) {
        logger.warn('already shutting down; signal ignored', { signal });
        return;
      }
      logger.info('shutting down', { signal });
      void this.shutdown().then((clean) => process.exit(clean ? 0 : 1));
    };
    process.on('SIGTERM', handle);
    process.on('SIGINT', handle);
    // An unknown error leaves the process in an unknown state: log it and exit so it is restarted.
    process.on('uncaughtException', (error) => {
      logger.error('uncaught exception; exiting', errorFields(error));
      process.exit(1);
    });
    process.on('unhandledRejection', (reason) => {
      logger.error('unhandled rejection; exiting', errorFields(reason));
      process.exit(1);
    });
  }

  /** Resolves true when everything closed before the deadline. */
  async shutdown(): Promise<boolean> {
    let clean = true;
    this.stopping ??= (async () => {
      const deadline = new Promise<'timeout'>((resolve) =>
        setTimeout(resolve, this.deadlineMs, 'timeout').unref(),
      );
      const closeAll = (async () => {
        for (const { name, close } of this.closers) {
          try {
            await close();
          } catch (error) {
            clean = false;
            logger.warn('error while closing', { part: name, ...errorFields(error) });
          }
        }
      })();
      if ((await Promise.race([closeAll, deadline])) === 'timeout') {
        clean = false;
        logger.error('shutdown deadline passed; exiting anyway', { deadlineMs: this.deadlineMs });
      }
    })();
    await this.stopping;
    return clean;
  }
}
