// The product page's session: the signed-in user in a cookie signed with HMAC-SHA256.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** The session cookie's name. */
export const SESSION_COOKIE = 'session';

/** Signs and reads session cookies with one secret (random per process unless given). */
export class Sessions {
  private readonly secret: Buffer;

  constructor(secret?: string) {
    this.secret = secret ? Buffer.from(secret) : randomBytes(32);
  }

  /** The Set-Cookie value that signs `user` in. */
  signIn(user: string): string {
    const payload = Buffer.from(JSON.stringify({ user })).toString('base64url');
    return `${SESSION_COOKIE}=${payload}.${this.sign(payload)}; Path=/; HttpOnly; SameSite=Lax`;
  }

  /** The Set-Cookie value that signs the user out (clears the cookie). */
  signOut(): string {
    return `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0`;
  }

  /** The signed-in user in a Cookie header, or undefined (missing, tampered or malformed cookies are ignored). */
  user(cookieHeader: string | undefined): string | undefined {
    for (const part of (cookieHeader ?? '').split(';')) {
      const eq = part.indexOf('=');
      if (eq < 0 || part.slice(0, eq).trim() !== SESSION_COOKIE) continue;
      const [payload, mac] = part.slice(eq + 1).trim().split('.');
      if (!payload || !mac) continue;
      const want = Buffer.from(this.sign(payload));
      const got = Buffer.from(mac);
      if (want.length !== got.length || !timingSafeEqual(want, got)) continue;
      try {
        const user = (JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { user?: unknown }).user;
        if (typeof user === 'string' && validUser(user)) return user;
      } catch {}
    }
    return undefined;
  }

  private sign(payload: string): string {
    return createHmac('sha256', this.secret).update(payload).digest('base64url');
  }
}

/** A user name the page accepts: 1-64 printable characters, no separators a header could trip on. */
export function validUser(user: string): boolean {
  return /^[\w.@+-]{1,64}$/.test(user);
}
