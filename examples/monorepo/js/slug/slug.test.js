const test = require("node:test");
const assert = require("node:assert");
const { slugify } = require("./slug");

test("lowercases and joins words", () => {
  assert.strictEqual(slugify("Hello World"), "hello-world");
});

test("drops accents and punctuation", () => {
  assert.strictEqual(slugify("  Crème brûlée!  "), "creme-brulee");
});
