/** A fresh `clientMessageId` (`[A-Za-z0-9_.:-]{1,64}`): 128 random bits. The server keeps the first message stored
 * under it, so sending again with the same id (a retry, a reconnect) never stores or delivers it twice. */
export function newClientMessageId(): string {
  const bytes = new Uint8Array(16);
  globalThis.crypto.getRandomValues(bytes); // unlike randomUUID, also in pages served over plain http
  return `cm-${Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("")}`;
}

/** A small set that forgets its oldest entries: what was already delivered, without growing forever. */
export class RecentSet {
  private readonly items = new Set<string>();
  constructor(private readonly capacity: number) {}

  has(item: string): boolean {
    return this.items.has(item);
  }

  /** Adds `item`; false when it was there already. */
  add(item: string): boolean {
    if (this.items.has(item)) return false;
    this.items.add(item);
    if (this.items.size > this.capacity) {
      const oldest = this.items.values().next().value;
      if (oldest !== undefined) this.items.delete(oldest);
    }
    return true;
  }
}
