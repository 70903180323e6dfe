/**
 * Daemon logs: pino, one JSON line per event, to a file under ZMX_DIR.
 * Nothing secret is ever passed here (keys are referred to by fingerprint).
 */
import pino from 'pino';

export type Logger = pino.Logger;

export function fileLogger(name: string, path: string): Logger {
  return pino({ name, level: process.env['ZMX_LOG_LEVEL'] ?? 'info' }, pino.destination({ dest: path, sync: true, mode: 0o600 }));
}
