#!/usr/bin/env node
// The `parley` executable. npm links package bins while `npm install` runs,
// before the root `prepare` script has built dist/, and a bin pointing into
// dist/ would not be linked on a fresh clone ("could not determine executable
// to run"). So the bin is this committed file, and it loads the built entry.
try {
  await import('../dist/src/main.js');
} catch (error) {
  if (error?.code === 'ERR_MODULE_NOT_FOUND' && String(error.message).includes('dist/src/main.js')) {
    process.stderr.write('parley is not built yet: run `npm run build` (npm install does it) in the Parley repository\n');
    process.exit(1);
  }
  throw error;
}
