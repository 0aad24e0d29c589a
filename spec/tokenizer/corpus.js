// The hand-made part of the tokenizer's corpus (make_reference.js adds the
// wire captures and random strings): texts that the split patterns cut in
// different ways, in [name, text] pairs.
"use strict";

const rep = (s, n) => s.repeat(n);

const code = {
  python: `import json, sys
from dataclasses import dataclass

@dataclass
class Point:
    x: float = 0.0
    y: float = 0.0

    def __repr__(self) -> str:
        return f"Point({self.x!r}, {self.y!r})"

def main(argv: list[str]) -> int:
    pts = [Point(i, i ** 2) for i in range(10)]
    print(json.dumps([p.__dict__ for p in pts], indent=2))
    return 0 if argv else 1

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
`,
  c: `#include <stdio.h>
#include <stdlib.h>

/* Reads numbers from stdin and prints their sum. */
static long sum(const long *v, size_t n) {
\tlong s = 0;
\tfor (size_t i = 0; i < n; i++) s += v[i];
\treturn s;
}

int main(int argc, char **argv) {
\tlong v[1024]; size_t n = 0;
\twhile (n < 1024 && scanf("%ld", &v[n]) == 1) n++;
\tprintf("%ld\\n", sum(v, n));
\treturn argc > 1 ? EXIT_FAILURE : EXIT_SUCCESS;
}
`,
  lua: `local M = {}
M.__index = M

-- new(t) -> object
function M.new(t)
  return setmetatable(t or {}, M)
end

function M:each(fn)
  for i, v in ipairs(self) do
    if fn(v, i) == false then break end
  end
end

return M
`,
  javascript: `export async function fetchAll(urls, { retries = 3 } = {}) {
  const out = await Promise.all(urls.map(async (u) => {
    for (let i = 0; i <= retries; i++) {
      try { return await (await fetch(u)).json(); }
      catch (e) { if (i === retries) throw e; }
    }
  }));
  return out.filter(Boolean).map(x => x?.data ?? null);
}
// => [{...}, null]
`,
  rust: `use std::collections::HashMap;

fn count_words(text: &str) -> HashMap<&str, usize> {
    let mut m = HashMap::new();
    for w in text.split_whitespace() {
        *m.entry(w).or_insert(0) += 1;
    }
    m
}

#[cfg(test)]
mod tests {
    #[test]
    fn it_works() { assert_eq!(super::count_words("a b a")["a"], 2); }
}
`,
  go: `package main

import (
\t"fmt"
\t"strings"
)

func main() {
\tfor i, s := range strings.Fields("alpha beta  gamma") {
\t\tfmt.Printf("%d: %q\\n", i, s)
\t}
}
`,
  sql: `SELECT u.id, u.name, COUNT(o.id) AS orders
FROM users u LEFT JOIN orders o ON o.user_id = u.id
WHERE u.created_at >= '2024-01-01' AND u.email LIKE '%@example.com'
GROUP BY u.id, u.name HAVING COUNT(o.id) > 3 ORDER BY orders DESC LIMIT 10;`,
  shell: `#!/bin/sh
set -eu
for f in "$@"; do
  [ -f "$f" ] || { echo "no such file: $f" >&2; exit 1; }
  wc -l -- "$f" | awk '{print $1}'
done 2>&1 | tee /tmp/log.txt
`,
  html: `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Test &amp; page</title></head>
<body><p class="x">Hello,&nbsp;<b>world</b>!</p><!-- comment --></body></html>
`,
};

const json = JSON.stringify({
  model: "gpt-4o-mini",
  messages: [
    { role: "system", content: "You are a helpful assistant." },
    { role: "user", content: "What's the weather in Paris?\nAnswer in JSON." },
  ],
  tools: [{ type: "function", function: { name: "get_weather", parameters: {
    type: "object", properties: { city: { type: "string" }, unit: { enum: ["c", "f"] } },
    required: ["city"] } } }],
  temperature: 0.2, max_tokens: 256, seed: 1234567890, logit_bias: { "50256": -100 },
}, null, 2);

const texts = [
  ["empty", ""],
  ["one letter", "a"],
  ["one space", " "],
  ["prose", "The quick brown fox jumps over the lazy dog. It's 3:45 p.m.; isn't it? " +
    "\"Quotes,\" (parentheses) [brackets] {braces} -- dashes — and an ellipsis…"],
  ["contractions", "I'm you're he's she'd we'll they've it's don't CAN'T WE'RE I'LL YOU'VE HE'D " +
    "'s 'S 'ſ 'T 're 'Re 'rE 'VE 'm 'LL 'lL 'd 'x ''s '' x's X'S o'clock rock'n'roll"],
  ["apostrophes", "it’s ‘quoted’ l'homme aujourd'hui d'accord 'hello' ' s ' 'S'"],
  ["case", "HTTPServer iPhone McDonald's XMLHttpRequest camelCaseWord snake_case_word " +
    "ALLCAPS Title Case ǅemal ǈubljana ᾈᾉ ΣΊΣΥΦΟΣ ΜΆΘΗΜΑ ДОМ дом Дом"],
  ["modifier letters", "ʰʲʷ ˈnæʃənəl ˌɪntərˈnæʃənəl ꜱᴍᴀʟʟ ᴄᴀᴘs ﬁnance ﬂow"],
  ["json", json],
  ["json compact", JSON.stringify(JSON.parse(json))],
  ...Object.entries(code).map(([k, v]) => ["code " + k, v]),
  ["chinese", "机器学习是人工智能的一个分支。它使计算机能够从数据中学习，而无需明确编程。深度学习使用多层神经网络。"],
  ["japanese", "東京は日本の首都です。カタカナ、ひらがな、漢字を使います。ｶﾀｶﾅ（半角）も「括弧」も。"],
  ["korean", "안녕하세요. 저는 학생입니다. 한국어는 재미있어요! ㄱㄴㄷ ᄀᄁ"],
  ["arabic", "اللغة العربية هي لغة سامية. مرحبا بالعالم! ١٢٣٤٥٦٧٨٩٠ كِتَابٌ مُفِيدٌ"],
  ["hebrew", "שָׁלוֹם עוֹלָם — עברית עם ניקוד"],
  ["devanagari", "हिन्दी भारत की राजभाषा है। नमस्ते दुनिया! १२३४५ क्षत्रिय ज्ञान"],
  ["thai and khmer", "ภาษาไทยไม่มีการเว้นวรรคระหว่างคำ ភាសាខ្មែរ"],
  ["cyrillic and greek", "Привет, мир! Съешь же ещё этих мягких французских булок. Γειά σου Κόσμε!"],
  ["vietnamese", "Tiếng Việt có dấu: Trường Đại học Bách khoa Hà Nội. ạ ả ấ ầ ẩ ẫ ậ"],
  ["emoji", "👍 👍🏽 👨‍👩‍👧‍👦 🏳️‍🌈 🇫🇷🇯🇵 ❤️ 🧑🏿‍💻 1️⃣ #️⃣ 😀😃😄 ☺ ✌🏻"],
  ["combining marks", "e\u0301 a\u0300\u0301\u0302 Z\u0351\u0352\u0353a\u0354\u0355l\u0356g\u0357o " +
    "\u0301\u0302 start \u20DD x\u20E3 !\u0301 ?\u0308\u0308 A\u030A Å ñ n\u0303"],
  ["marks after space and digits", " \u0301x 1\u0301 \u0301\u0302 . \u0301 \n\u0301"],
  ["spaces", "a  b   c    d\t\te\t \tf   \n   g  \n\n\n  h \r\n i\r\n\r\n\tj   "],
  ["space runs", rep(" ", 100) + "x" + rep(" ", 7) + "\n" + rep("\t", 20) + "y" + rep(" ", 33)],
  ["newline runs", rep("\n", 50) + "a" + rep("\r\n", 30) + "b" + rep("\n \n", 10)],
  ["unicode spaces", "a\u00A0b\u2003c\u3000d\u2028e\u2029f\u0085g\u1680h\u202Fi\u205Fj \u00A0 k\u000Bl\u000Cm"],
  ["not white space", "a\u200Bb\uFEFFc\u180Ed\u001Ce\u001Ff\u2060g \u200B h"],
  ["trailing space", "ends with spaces   "],
  ["leading newline", "\nstarts"],
  ["digits", "0 1 12 123 1234 12345 123456 1234567 12345678901234567890 3.14159 1,000,000 1e10 0x1F"],
  ["digit runs", rep("1234567890", 30) + " " + rep("9", 101)],
  ["other numbers", "١٢٣٤ ０１２３４５ ²³¹ ½¾ Ⅻ ⅻ ① ⑳ ੧੨੩ ໑໒ 𝟏𝟐𝟑"],
  ["numbers and letters", "abc123def 123abc A1B2C3 v2.0.1 iso8601 2024-01-01T12:00:00Z"],
  ["punctuation", "!!! ??? ... --- +++ === *** ### $$$ %%% &&& ||| ~~~ ``` ''' \"\"\" ;;; ::: /// \\\\\\"],
  ["slashes", "a/b//c///d http://example.com/path/to/file.txt ./x ../y /usr/bin/ /\n/\r\n//"],
  ["punctuation and newlines", "x.\n\ny!\r\n\nz?\n)\n}\n]\n\"\n;\n"],
  ["special tokens' text", "<|endoftext|> <|fim_prefix|><|fim_middle|><|fim_suffix|> <|endofprompt|> " +
    "<|startoftext|><|start|>user<|message|>hi<|end|> <|reserved_200000|> <|im_start|>"],
  ["url and email", "Visit https://www.example.com/a?b=c&d=e#f or mail john.doe+tag@example.co.uk."],
  ["markdown", "# Title\n\n* item **bold** _it_ `code`\n1. one\n2. two\n\n> quote\n\n| a | b |\n|---|---|\n| 1 | 2 |\n"],
  ["private use and unassigned", "\uE000\uF8FF \u0378\u0379 \uFFFF\uFFFE \u{10FFFF} \u{E0001}\u{E0020}"],
  ["astral letters", "𝐀𝐁𝐂 𝒶𝒷𝒸 𐐀𐐨 𝔄𝔅 𠀀𠀁𪜀 𓀀𓀁 𐌰𐌱"],
  ["replacement character", "a\uFFFDb \uFFFD\uFFFD \uFFFDx"],
  ["control characters", "a\u0000b\u0001c\u0007d\u001Be\u007Ff\u0080g\u009Fh"],
  ["long word", rep("abc", 200)],
  ["long upper", rep("ABC", 100) + "def"],
  ["repeated a", rep("a", 5000)],
  ["repeated space", rep(" ", 3000)],
  ["repeated digits", rep("7", 3000)],
  ["repeated dot", rep(".", 3000)],
  ["repeated cjk", rep("的", 2000)],
  ["repeated emoji", rep("😀", 1000)],
  ["repeated pair", rep("ab", 2000)],
  ["repeated mark", "a" + rep("\u0301", 500)],
];

// characters that the split patterns treat differently, for random strings
const pool = [
  "a", "b", "s", "t", "e", "A", "B", "S", "T", "E", "Z", "z", "ſ", "ǅ", "ʰ", "ß", "é", "É",
  "0", "1", "9", "٣", "²", "½", " ", " ", " ", "  ", "\t", "\n", "\r", "\r\n", "\u00A0", "\u3000",
  "'", "'s", "'S", "'re", "'LL", "'d", "’", "\"", ".", ",", "!", "?", "/", "-", "_", "(", ")", "{", "}",
  "<|endoftext|>", "\u0301", "\u0308", "e\u0301", "中", "文", "日本", "ア", "한", "ع", "ب", "न", "्",
  "😀", "👍🏽", "👨‍👩‍👧", "\u200D", "\uFE0F", "\uFEFF", "\u200B", "\u2028", "\u0085", "\u001F", "$", "#", "=",
  // more categories: Lt, Lm, Mc, Me, Nl, No, Zs, Zl, Zp, Cf, Co, Pc, Pd, Sc, So
  "ǈ", "ˈ", "ẞ", "ς", "ა", "ﬁ", "\u0903", "\u0488", "\u20DD", "Ⅻ", "①", "〇", "𐌠", "\u2003", "\u2029",
  "\u1680", "\u000B", "\u00AD", "\u061C", "\uE000", "\uFFFD", "\u0378", "‿", "—", "€", "™", "ｶ", "ㄱ",
  "\u064B", "\u0E31", "\u17D2",
];

// [name, hex bytes] of texts that are not UTF-8
const invalid = [
  ["lone continuation bytes", Buffer.from("a\x80b\xBF c", "latin1").toString("hex")],
  ["truncated sequences", "e282" + "41" + "e0a0" + "20" + "f09f98" + "2061" + "c3"],
  ["overlong and surrogates", "c0af" + "e080af" + "eda080" + "f4908080" + "2078"],
  ["bytes f5 to ff", "f5f6f7f8f9fafbfcfdfeff" + "20" + "ff61"],
  ["invalid inside words", Buffer.concat([Buffer.from("hello"), Buffer.from([0xff]),
    Buffer.from("world "), Buffer.from([0xc3]), Buffer.from("abc "), Buffer.from([0xe2, 0x82]),
    Buffer.from("def")]).toString("hex")],
  ["invalid between spaces and digits", Buffer.concat([Buffer.from("  "), Buffer.from([0x80]),
    Buffer.from("123"), Buffer.from([0xfe]), Buffer.from("456\n"), Buffer.from([0xc0]),
    Buffer.from("\n\n")]).toString("hex")],
  ["invalid after letters and marks", Buffer.concat([Buffer.from("ABC"), Buffer.from([0xed, 0xa0]),
    Buffer.from("\u0301x"), Buffer.from([0xf0, 0x9f]), Buffer.from("\u0301")]).toString("hex")],
  ["a run of invalid bytes", "ff".repeat(300) + "80".repeat(100) + "e282".repeat(50)],
  ["a real U+FFFD beside invalid bytes", "efbfbd" + "ff" + "efbfbd" + "41"],
];

module.exports = { texts, pool, invalid };
