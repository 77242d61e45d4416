import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import nodemailer from 'nodemailer';
import { logger } from '../logger.js';

export interface MailMessage {
  /** Stable per message of a booking: a resent message is the same message to the server and the client. */
  messageId: string;
  to: string;
  subject: string;
  text: string;
  html?: string;
  /** A calendar invite, sent as the text/calendar alternative calendar clients act on. */
  icalEvent?: { method: 'REQUEST' | 'CANCEL'; filename: string; content: string };
  attachments?: { filename: string; content: Buffer; contentType: string }[];
}

export interface Mailer {
  send(message: MailMessage): Promise<void>;
}

export type MailChannel = 'email' | 'file';

/**
 * Email over SMTP when SMTP_URL is set; otherwise each message is written as an .eml file to
 * `mailDir`, which any mail program opens (attachments and invite included).
 */
export function createMailer(
  smtpUrl: string | undefined,
  from: string,
  mailDir: string,
): { channel: MailChannel; mailer: Mailer; close(): void } {
  if (smtpUrl) {
    // Short timeouts: a mail server that does not answer is "down" (retried), not a hung handler.
    const transport = nodemailer.createTransport(smtpUrl, {
      connectionTimeout: 5_000,
      greetingTimeout: 5_000,
      socketTimeout: 10_000,
    });
    return {
      channel: 'email',
      mailer: { send: async (message) => void (await transport.sendMail({ from, ...message })) },
      close: () => transport.close(),
    };
  }
  const transport = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'windows' });
  return {
    channel: 'file',
    mailer: {
      send: async (message) => {
        const info = await transport.sendMail({ from, ...message });
        const file = path.join(mailDir, emlName(new Date(), message.to, message.messageId));
        await writeCreatingFolder(file, info.message as Buffer);
        logger.info('message written (no SMTP_URL set)', { file, subject: message.subject });
      },
    },
    close: () => transport.close(),
  };
}

/** Writes the file; the folder is made only when it is missing (at first, or removed since). */
async function writeCreatingFolder(file: string, content: Buffer): Promise<void> {
  try {
    await writeFile(file, content);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, content);
  }
}

/** "20261201T101500Z-asha_example.com-<id>.eml": sorted by time, safe on any file system. */
function emlName(at: Date, to: string, messageId: string): string {
  const stamp = at
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  const safe = (text: string) => text.replace(/[^\w.-]+/g, '_').slice(0, 80);
  return `${stamp}-${safe(to)}-${safe(messageId.replace(/[<>]/g, ''))}.eml`;
}
