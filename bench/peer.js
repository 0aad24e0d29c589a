// The official OpenAI Node SDK as a peer: the same work as raw_curl.c and
// peer.lua, through the SDK's public API.
//
//   node bench/peer.js one|seq|stream|conc BASE_URL N
//
// seq: N awaited chat.completions.create; stream: N streams read with
// `for await`; conc: N creates at once under Promise.all (the SDK's own
// concurrency: fetch's keep-alive pool, no connection limit).
// Prints one result line: "ok key=value ..." or "fail <why>".
"use strict";
const path = require("path");
const OpenAI = require(path.join(__dirname, "node_modules", "openai")).default;

const [mode, baseURL, nArg] = process.argv.slice(2);
const n = Number(nArg);
const client = new OpenAI({ baseURL, apiKey: "sk-bench-000000000000000000000000", maxRetries: 0 });
const messages = [
  { role: "system", content: "You are a helpful assistant." },
  { role: "user", content: "Say hello to the benchmark." },
];
const model = "gpt-4o-mini";

function fail(why) {
  process.stdout.write("fail " + why + "\n");
  process.exit(1);
}

async function main() {
  if (mode === "one" || mode === "seq") {
    let chars = 0;
    for (let i = 0; i < n; i++) {
      const r = await client.chat.completions.create({ model, messages });
      const text = r.choices[0].message.content;
      if (typeof text !== "string") fail("request " + (i + 1) + ": no content");
      chars += text.length;
    }
    console.log(`ok requests=${n} chars=${chars}`);
  } else if (mode === "stream") {
    let deltas = 0, chars = 0;
    for (let i = 0; i < n; i++) {
      const stream = await client.chat.completions.create({ model, messages, stream: true });
      for await (const chunk of stream) {
        const c = chunk.choices[0];
        const s = c && c.delta && c.delta.content;
        if (s) { deltas++; chars += s.length; }
      }
    }
    console.log(`ok requests=${n} deltas=${deltas} chars=${chars}`);
  } else if (mode === "conc") {
    const t0 = process.hrtime.bigint();
    const all = [];
    for (let i = 0; i < n; i++) all.push(client.chat.completions.create({ model, messages }));
    const rs = await Promise.all(all);
    const t1 = process.hrtime.bigint();
    let chars = 0;
    for (const r of rs) chars += r.choices[0].message.content.length;
    console.log(`ok requests=${n} chars=${chars} inner_s=${(Number(t1 - t0) / 1e9).toFixed(4)}`);
  } else {
    fail("unknown mode " + mode);
  }
}

main().catch((e) => fail(String(e && e.message || e).replace(/\s+/g, " ")));
