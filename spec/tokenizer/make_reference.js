// Writes spec/tokenizer/reference.json: the token ids that tiktoken (the
// npm package, its WASM build of OpenAI's Rust core) gives for a corpus, so
// that spec/tokenizer_spec.lua needs no node. Run from the repository root
// after `npm install --prefix bench` (bench/package.json pins tiktoken):
//
//   node spec/tokenizer/make_reference.js
//
// The corpus: every file of spec/fixtures/wire, and the strings inside each
// JSON or SSE capture, decoded (16,000 characters of them); the texts of corpus.js (code, JSON, scripts,
// emoji, marks, white space, digits, special tokens' text); 400 random
// strings over characters that the split patterns treat differently; and
// texts with bytes that are not UTF-8 (see invalid() below). A text with
// more than IDS_UP_TO tokens, and the texts of the captures (in the
// repository already), keep their count and a digest of their ids
// (h = (h * 33 + id) % 2^32) rather than the ids.
"use strict";
const fs = require("fs");
const path = require("path");
const root = path.resolve(__dirname, "../..");
const { get_encoding } = require(path.join(root, "bench/node_modules/tiktoken"));
const corpus = require("./corpus.js");

const NAMES = ["o200k_base", "cl100k_base"];
const IDS_UP_TO = 3000;
const enc = Object.fromEntries(NAMES.map((n) => [n, get_encoding(n)]));
const dec = new TextDecoder("utf-8", { ignoreBOM: true }); // keep U+FEFF

function digest(ids) {
  let h = 0;
  for (const id of ids) h = (h * 33 + id) % 4294967296;
  return h;
}

function entry(name, bytes, idsOf, from, wire) {
  const e = { name };
  if (from) e.file = from; else e.text = Buffer.from(bytes).toString("base64");
  e.bytes = bytes.length;
  for (const n of NAMES) {
    const ids = idsOf(n);
    e[n] = { count: ids.length, digest: digest(ids) };
    if (ids.length <= IDS_UP_TO && !wire) e[n].ids = ids;
  }
  return e;
}

const valid = (name, text, from, wire) => {
  const bytes = Buffer.from(text, "utf8");
  return entry(name, bytes, (n) => Array.from(enc[n].encode_ordinary(text)), from, wire || from);
};

// --- bytes that are not UTF-8 -------------------------------------------
// tiktoken takes strings, so it has no answer of its own for such bytes;
// the tokenizer cuts them where tiktoken cuts the text decoded with
// replacement (each maximal ill-formed subsequence one U+FFFD) and merges
// the original bytes of each piece. The expected ids are made that way
// here: the pieces by a JavaScript rendering of the pattern (Rust's \s
// spelled out), each piece's ids by tiktoken when the piece is valid and by
// a plain rank-order merge of its bytes when not; the plain merge is
// checked against tiktoken on every valid piece of the corpus first.
const WS = "\\t\\n\\v\\f\\r \\x85\\xA0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000";
const C = "(?:'[sS\\u017F]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])";
const PAT = {
  cl100k_base: `${C}|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^${WS}\\p{L}\\p{N}]+[\\r\\n]*|[${WS}]*[\\r\\n]+|[${WS}]+(?![^${WS}])|[${WS}]+`,
  o200k_base: `[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+${C}?|` +
    `[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*${C}?|` +
    `\\p{N}{1,3}| ?[^${WS}\\p{L}\\p{N}]+[\\r\\n/]*|[${WS}]*[\\r\\n]+|[${WS}]+(?![^${WS}])|[${WS}]+`,
};

// the ranks as the package ships them (its encode_single_token panics on a
// byte string that is not a token, and the WASM instance is broken after)
const RANKS = {};
function ranksOf(n) {
  if (RANKS[n]) return RANKS[n];
  const m = new Map();
  const file = path.join(root, "bench/node_modules/tiktoken/encoders", n + ".json");
  for (const line of JSON.parse(fs.readFileSync(file)).bpe_ranks.split("\n")) {
    if (!line) continue;
    const [, first, ...tokens] = line.split(" ");
    tokens.forEach((t, i) => m.set(t, Number(first) + i));
  }
  return (RANKS[n] = m);
}

function plainMerge(n, bytes) {
  const ranks = ranksOf(n);
  const rank = (b) => ranks.get(Buffer.from(b).toString("base64"));
  const whole = rank(bytes);
  if (whole !== undefined) return [whole];
  let parts = Array.from(bytes, (b) => Uint8Array.of(b));
  for (;;) {
    let best, at = -1;
    for (let i = 0; i + 1 < parts.length; i++) {
      const r = rank(Buffer.concat([parts[i], parts[i + 1]]));
      if (r !== undefined && (best === undefined || r < best)) best = r, at = i;
    }
    if (at < 0) break;
    parts.splice(at, 2, Buffer.concat([parts[at], parts[at + 1]]));
  }
  return parts.map(rank);
}

// The text decoded with replacement, and the byte where each UTF-16 unit
// of it begins. TextDecoder says where characters are: an ill-formed
// subsequence is as many bytes (up to 4) as still decode to one U+FFFD.
function decodeWithOffsets(bytes) {
  let text = "";
  const at = [];
  for (let i = 0; i < bytes.length;) {
    const ch = String.fromCodePoint(dec.decode(bytes.subarray(i, i + 4)).codePointAt(0));
    let len = 1;
    if (ch !== "\uFFFD") len = Buffer.byteLength(ch, "utf8");
    else while (len < 4 && i + len < bytes.length && dec.decode(bytes.subarray(i, i + len + 1)) === "\uFFFD") len++;
    for (let u = 0; u < ch.length; u++) at.push(i);
    text += ch;
    i += len;
  }
  at.push(bytes.length);
  return { text, at };
}

function invalidIds(n, bytes) {
  const { text, at } = decodeWithOffsets(bytes);
  const ids = [];
  for (const m of text.matchAll(new RegExp(PAT[n], "gu"))) {
    const piece = bytes.subarray(at[m.index], at[m.index + m[0].length]);
    const ok = Buffer.from(m[0], "utf8").equals(Buffer.from(piece));
    ids.push(...(ok ? Array.from(enc[n].encode_ordinary(m[0])) : plainMerge(n, piece)));
  }
  return ids;
}

// the JavaScript pattern and the plain merge agree with tiktoken on valid text
function checkPlain(texts) {
  for (const t of texts)
    for (const n of NAMES) {
      const bytes = Buffer.from(t, "utf8");
      const a = invalidIds(n, bytes).join(), b = Array.from(enc[n].encode_ordinary(t)).join();
      if (a !== b) throw new Error(`the plain reference differs from tiktoken (${n}) on ${JSON.stringify(t)}`);
    }
}

// --- the corpus -----------------------------------------------------------
function strings(v, out) {
  if (typeof v === "string") out.push(v);
  else if (v && typeof v === "object") for (const k of Object.keys(v)) strings(k, out), strings(v[k], out);
  return out;
}

function wireTexts() {
  const dir = path.join(root, "spec/fixtures/wire");
  const out = [];
  for (const f of fs.readdirSync(dir).sort()) {
    const text = fs.readFileSync(path.join(dir, f), "utf8");
    out.push(valid(`wire ${f}`, text, f));
    const found = [];
    if (f.endsWith(".json")) {
      try { strings(JSON.parse(text), found); } catch (e) { /* not JSON */ }
    } else if (f.endsWith(".sse")) {
      for (const line of text.split("\n"))
        if (line.startsWith("data:")) try { strings(JSON.parse(line.slice(5)), found); } catch (e) { /* [DONE] */ }
    }
    // the first 16,000 UTF-16 units of them: the file itself is whole above
    const joined = Array.from(found.join("\n").slice(0, 16000)).join("").replace(/[\uD800-\uDBFF]$/, "");
    if (joined) out.push(valid(`strings of ${f}`, joined, undefined, true));
  }
  return out;
}

function randomTexts(count) {
  let seed = 23;
  const rnd = (k) => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed % k; };
  const pool = corpus.pool;
  const out = [];
  for (let i = 0; i < count; i++) {
    let s = "";
    const len = 1 + rnd(i % 10 === 0 ? 400 : 60);
    for (let k = 0; k < len; k++) s += pool[rnd(pool.length)];
    out.push(valid(`random ${i + 1}`, s));
  }
  return out;
}

checkPlain(corpus.texts.map((t) => t[1]).concat(corpus.pool));
const texts = [
  ...corpus.texts.map(([name, text]) => valid(name, text)),
  ...randomTexts(400),
  ...corpus.invalid.map(([name, hex]) => {
    const bytes = Buffer.from(hex, "hex");
    return entry(name, bytes, (n) => invalidIds(n, bytes));
  }),
  ...wireTexts(),
];
const version = JSON.parse(fs.readFileSync(path.join(root, "bench/node_modules/tiktoken/package.json"))).version;
const out = { generator: "spec/tokenizer/make_reference.js", tiktoken: version, texts };
fs.writeFileSync(path.join(__dirname, "reference.json"),
  JSON.stringify(out).replace(/\},\{"name"/g, '},\n{"name"') + "\n");
console.log(`reference.json: ${texts.length} texts, tiktoken ${version}`);
