/**
 * The one file that imports @napi-rs/keyring: the OS keychain as a small
 * SecretStore. On Linux the entry is pinned to the Secret Service
 * (gnome-keyring, KWallet): the kernel keyring forgets keys at logout, which
 * would silently replace a user's identity.
 */
import { createRequire } from 'node:module';
import type { Entry } from '@napi-rs/keyring';

export interface SecretStore {
  readonly kind: 'keyring';
  get(account: string): string | null;
  set(account: string, secret: string): void;
  delete(account: string): void;
}

const SERVICE = 'zmx';
const OPTIONS = { linux: { store: 'secret-service' as const } };

/**
 * The native module, loaded on the first keychain call: a command whose keys
 * are in files (or that needs no secret) never pays for the addon and its
 * D-Bus library. require, not import(): the KeyStore is synchronous.
 */
let native: typeof import('@napi-rs/keyring') | undefined;

function entry(account: string): Entry {
  native ??= createRequire(import.meta.url)('@napi-rs/keyring') as typeof import('@napi-rs/keyring');
  return new native.Entry(SERVICE, account, OPTIONS);
}

/** The keychain, unprobed: each call throws if it does not answer. */
export const keyring: SecretStore = {
  kind: 'keyring',
  get: (account) => entry(account).getPassword() ?? null,
  set: (account, secret) => entry(account).setPassword(secret),
  delete: (account) => {
    entry(account).deletePassword();
  },
};

/**
 * Returns the keychain if one answers a write, a read and a delete of a probe
 * entry; null when none is reachable (no D-Bus session, no Secret Service,
 * or it refuses), so a new key goes to a 0600 file instead. Only worth its
 * three round trips when choosing where a new key goes.
 */
export function openKeyring(): SecretStore | null {
  const probeAccount = `probe-${process.pid}`;
  try {
    keyring.set(probeAccount, 'probe');
    const ok = keyring.get(probeAccount) === 'probe';
    keyring.delete(probeAccount);
    return ok ? keyring : null;
  } catch {
    return null;
  }
}
