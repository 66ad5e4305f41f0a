// The file system, for the modules of the data path that also run in a browser (formats/,
// tokenizer/, model/, chat/, api/). In Node this is node:fs itself; the browser bundle swaps in
// fs.browser.ts (scripts/build-browser.js substitutes every `platform/X.js` that has an
// `X.browser.ts`), where there are no paths: models come from a File, Blob, URL or ArrayBuffer
// (api/open-source.ts). Keep this list to what the data path uses.
export { closeSync, existsSync, fstatSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
