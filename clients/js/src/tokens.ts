/** Where the JWT comes from: a fixed `token`, or `getToken`, asked again whenever the server says the token
 * expired (REST 401, the socket's `token_expired`) or its `exp` has passed. */
export type GetToken = (context: { expired: boolean }) => string | Promise<string>;

const EXPIRY_SKEW_SECONDS = 0; // only a visibly expired token is replaced up front; the server says when one expired

export class TokenSource {
  private token: string | undefined;
  private refreshing: Promise<string> | undefined;

  constructor(
    token: string | undefined,
    private readonly getToken: GetToken | undefined,
  ) {
    if (token === undefined && getToken === undefined) throw new TypeError("MessagingClient needs token or getToken");
    this.token = token;
  }

  get canRefresh(): boolean {
    return this.getToken !== undefined;
  }

  /** The token to use now: the one held, unless there is none yet or it has visibly expired. */
  async current(): Promise<string> {
    if (this.refreshing) return this.refreshing;
    if (this.token !== undefined && !(this.canRefresh && isExpired(this.token))) return this.token;
    return this.fetch(this.token !== undefined);
  }

  /** A fresh token from `getToken` (one call however many callers ask at once); the same token without it. */
  async refresh(): Promise<string> {
    if (!this.canRefresh) return this.current();
    return this.refreshing ?? this.fetch(true);
  }

  /** Replace the token (a new login); the next request and the next connection use it. */
  set(token: string): void {
    this.token = token;
  }

  /** The `sub` claim of the token held, if it is a readable JWT: the user the server sees. */
  get subject(): string | undefined {
    return this.token === undefined ? undefined : claims(this.token)?.sub;
  }

  private fetch(expired: boolean): Promise<string> {
    const getToken = this.getToken;
    if (!getToken) return Promise.resolve(this.token as string);
    this.refreshing = Promise.resolve()
      .then(() => getToken({ expired }))
      .then((token) => {
        this.token = token;
        return token;
      })
      .finally(() => {
        this.refreshing = undefined;
      });
    return this.refreshing;
  }
}

interface Claims {
  sub?: string;
  exp?: number;
}

/** The payload of a JWT, unverified (the server verifies): only to read `sub` and `exp`. */
export function claims(token: string): Claims | undefined {
  const payload = token.split(".")[1];
  if (!payload) return undefined;
  try {
    const base64 = payload.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(payload.length / 4) * 4, "=");
    const parsed: unknown = JSON.parse(globalThis.atob(base64));
    return typeof parsed === "object" && parsed !== null ? (parsed as Claims) : undefined;
  } catch {
    return undefined;
  }
}

function isExpired(token: string): boolean {
  const exp = claims(token)?.exp;
  return typeof exp === "number" && exp - EXPIRY_SKEW_SECONDS <= Date.now() / 1000;
}
