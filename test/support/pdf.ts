import { spawn } from 'node:child_process';

/** The text of a PDF as poppler's pdftotext reads it (lib/ops/ensure-pdftotext.sh installs it). */
export async function pdfToText(pdf: Buffer): Promise<string> {
  const child = spawn('pdftotext', ['-layout', '-', '-'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', resolve);
  });
  child.stdin.end(pdf);
  const code = await exited;
  if (code !== 0) throw new Error(`pdftotext exited with ${code}: ${stderr}`);
  return stdout;
}
