// native-addon.ts in a browser: there is no N-API addon; callers fall back (wasm or js backend,
// plain reads instead of file mappings).
export interface AddonLoad<T> {
  addon?: T;
  reason?: string;
  explicitFailure?: boolean;
}

export function loadNativeAddon<T>(): AddonLoad<T> {
  return { reason: 'there is no native addon in a browser' };
}
