// One process of the tokenizer benchmark for a peer (bench/tokenizer.py
// runs it): node bench/tokenizer.js tiktoken|js-tiktoken ENCODING REPS FILE...
// Prints what bench/tokenizer.lua prints: the memory that loading the
// encoding took (growth of the resident set), then per file its bytes,
// tokens and the median CPU seconds of one encode (process.cpuUsage).
"use strict";
const fs = require("fs");
const path = require("path");
const [peer, enc, repsArg, ...files] = process.argv.slice(2);
const reps = Number(repsArg);
const mods = path.join(__dirname, "node_modules");

const before = process.memoryUsage().rss;
let encode;
if (peer === "tiktoken") {
  const e = require(path.join(mods, "tiktoken")).get_encoding(enc);
  encode = (s) => e.encode_ordinary(s);
} else {
  const { Tiktoken } = require(path.join(mods, "js-tiktoken/dist/lite.cjs"));
  const e = new Tiktoken(require(path.join(mods, "js-tiktoken/dist/ranks", enc + ".cjs")));
  encode = (s) => e.encode(s, [], []);
}
encode("warm");
console.log(`vocab=${enc} memory=0 rss=${process.memoryUsage().rss - before}`);

const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1e6; };
for (const file of files) {
  const text = fs.readFileSync(file, "utf8");
  const n = encode(text).length;
  const times = [];
  for (let r = 0; r < reps; r++) {
    const t0 = cpu();
    const ids = encode(text);
    times.push(cpu() - t0);
    if (ids.length !== n) throw new Error("not the same ids twice");
  }
  times.sort((a, b) => a - b);
  console.log(`file=${path.basename(file)} bytes=${Buffer.byteLength(text)} tokens=${n} ` +
              `seconds=${times[Math.floor((reps - 1) / 2)].toFixed(6)}`);
}
