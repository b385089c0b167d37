// Preloaded (node --require) by the conformance script when it runs one test
// file on its own: at exit, writes the files that file loaded through
// require() to $CONFORMANCE_NODE_OUT, so the script knows what it depends on.
"use strict";
const fs = require("node:fs");

process.on("exit", () => {
  const out = process.env.CONFORMANCE_NODE_OUT;
  if (out) {
    fs.writeFileSync(out, JSON.stringify(Object.keys(require.cache)));
  }
});
