// What is open towards each endpoint (TCP connection pairs, UDP sessions), so that an
// endpoint leaving the set closes what still goes to it, and a stop can wait for them
// to finish. Pure: closing is the caller's callback.

export class Tracked {
  readonly #byKey = new Map<string, Set<() => void>>();
  #size = 0;
  #idle: Array<() => void> = [];

  get size(): number {
    return this.#size;
  }

  /** Registers something open towards endpoint `key`; `close` ends it. Returns the function that forgets it (call once it is closed). */
  add(key: string, close: () => void): () => void {
    let set = this.#byKey.get(key);
    if (!set) this.#byKey.set(key, (set = new Set()));
    set.add(close);
    this.#size++;
    let gone = false;
    return () => {
      if (gone) return;
      gone = true;
      set.delete(close);
      if (set.size === 0 && this.#byKey.get(key) === set) this.#byKey.delete(key);
      this.#size--;
      if (this.#size === 0) for (const resolve of this.#idle.splice(0)) resolve();
    };
  }

  /** Closes everything towards the endpoints in `keys`; returns how many were closed. */
  closeTo(keys: Iterable<string>): number {
    let n = 0;
    for (const key of keys) {
      for (const close of [...(this.#byKey.get(key) ?? [])]) {
        close();
        n++;
      }
    }
    return n;
  }

  closeAll(): number {
    return this.closeTo([...this.#byKey.keys()]);
  }

  /** Resolves once nothing is open (at once when nothing is). */
  idle(): Promise<void> {
    if (this.#size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }
}
