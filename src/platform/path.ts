// Path names for the data path (see fs.ts): node:path in Node, a small POSIX subset in the browser
// bundle (path.browser.ts), where the only "paths" are names of Files and URLs used in messages.
export { basename, dirname, extname, join, resolve } from 'node:path';
