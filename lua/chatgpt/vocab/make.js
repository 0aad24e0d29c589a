// Writes the tokenizer's vocabularies, lua/chatgpt/vocab/<name>.bpe, from
// the npm package tiktoken (bench/package.json pins it; `npm install
// --prefix bench` brings it), and checks them against OpenAI's own files:
// the ranks are written back out in OpenAI's .tiktoken format (one line
// "base64 rank" per token), whose SHA-256 must be the one tiktoken's
// Python package pins for the file it downloads.
//
//   node lua/chatgpt/vocab/make.js        (from the repository root)
//
// The .bpe format is described in src/vocab.c; SOURCES.md records what
// this printed.
"use strict";
const fs = require("fs");
const path = require("path");
const crypto = require("crypto");

const root = path.resolve(__dirname, "../../..");
const pkg = path.join(root, "bench/node_modules/tiktoken");
const TIKTOKEN_SHA256 = {   // tiktoken_ext/openai_public.py
  o200k_base: "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
  cl100k_base: "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
};
const sha256 = (b) => crypto.createHash("sha256").update(b).digest("hex");

const version = JSON.parse(fs.readFileSync(path.join(pkg, "package.json"))).version;
console.log(`tiktoken ${version} (npm)`);
for (const name of Object.keys(TIKTOKEN_SHA256)) {
  const src = path.join(pkg, "encoders", name + ".json");
  const json = fs.readFileSync(src);
  // bpe_ranks: lines of "! <first rank> <base64 token> <base64 token> ..."
  const ranks = [];
  for (const line of JSON.parse(json).bpe_ranks.split("\n")) {
    if (!line) continue;
    const [, first, ...tokens] = line.split(" ");
    tokens.forEach((t, i) => { ranks[Number(first) + i] = Buffer.from(t, "base64"); });
  }
  const text = [], parts = [Buffer.from("lua-chatgpt bpe 1\n"), Buffer.alloc(4)];
  parts[1].writeUInt32LE(ranks.length);
  ranks.forEach((b, r) => {
    if (!b || b.length < 1 || b.length > 255) throw new Error(`${name}: rank ${r} missing or too long`);
    text.push(`${b.toString("base64")} ${r}\n`);
    parts.push(Buffer.from([b.length]), b);
  });
  const tiktoken = sha256(Buffer.from(text.join("")));
  if (tiktoken !== TIKTOKEN_SHA256[name]) throw new Error(`${name}: the ranks are not OpenAI's (${tiktoken})`);
  const out = Buffer.concat(parts);
  fs.writeFileSync(path.join(__dirname, name + ".bpe"), out);
  console.log(`${name}: ${ranks.length} tokens; ${path.relative(root, src)} sha256 ${sha256(json)};` +
              ` as ${name}.tiktoken sha256 ${tiktoken} (OpenAI's); ${name}.bpe ${out.length} bytes sha256 ${sha256(out)}`);
}
