import { randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync, chmodSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';

/** The admin token's file inside the Bowline home. */
export function adminTokenPath(home: string): string {
  return join(home, 'admin-token');
}

/** Reads the admin token, creating it (mode 0600) on first start. */
export function ensureAdminToken(home: string): string {
  const path = adminTokenPath(home);
  mkdirSync(home, { recursive: true, mode: 0o700 });
  if (existsSync(path)) {
    const t = readFileSync(path, 'utf8').trim();
    if (t) return t;
  }
  const token = randomBytes(32).toString('base64url');
  try {
    writeFileSync(path, token + '\n', { mode: 0o600, flag: 'wx' });
  } catch {
    // Another process created it first, or an empty file was left: keep what is there if non-empty.
    const t = readFileSync(path, 'utf8').trim();
    if (t) return t;
    writeFileSync(path, token + '\n', { mode: 0o600 });
  }
  chmodSync(path, 0o600);
  return token;
}

/** Replaces the admin token with a new random one (written beside the old file, then renamed over it: never half a token). */
export function rotateAdminToken(home: string): string {
  const path = adminTokenPath(home);
  mkdirSync(home, { recursive: true, mode: 0o700 });
  const token = randomBytes(32).toString('base64url');
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, token + '\n', { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
  return token;
}

/** True when `host` is a loopback address or name: nobody else can reach a listener there, so no token is needed. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '');
  if (h === 'localhost') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) return h === '::1' || /^::ffff:127\./i.test(h);
  return false;
}

/** Checks an `Authorization: Bearer TOKEN` header against the admin token in constant time. */
export function bearerMatches(header: string | undefined, token: string): boolean {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  if (!m) return false;
  const a = Buffer.from(m[1]!);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Name of the cookie that carries the dashboard's token (set by POST /ui/login, sent only to /ui/). */
export const UI_TOKEN_COOKIE = 'bowline_ui_token';

/** The dashboard token from a Cookie header, if any. */
export function uiTokenCookie(header: string | undefined): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === UI_TOKEN_COOKIE) {
      try {
        return decodeURIComponent(v.join('='));
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}
