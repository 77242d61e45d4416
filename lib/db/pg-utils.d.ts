// node-postgres's own conversion of a parameter to the text it sends (arrays, dates, buffers, JSON).
declare module 'pg/lib/utils.js' {
  export function prepareValue(value: unknown): string | Buffer | null;
}
