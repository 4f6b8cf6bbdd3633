#!/usr/bin/env bash
# Checks that every formula in the API documentation is typeset: builds the docs as docs.rs
# does (`cargo doc-math`: docs/katex-header.html in every page's head), opens every page of the
# crate in headless Chromium and fails if a page has a formula KaTeX could not parse, a `$`
# left raw outside code, or KaTeX did not load.
#
# KaTeX comes from the npm registry at the version the header pins (`npm pack`, into a
# temporary folder) and is served on 127.0.0.1 with the docs, for this check only: the
# header itself points at the CDN for readers. The browser checks the header's integrity
# hashes against the served files, so a header whose hashes do not match the pinned release
# fails here too.
#
#   scripts/docs-check.sh                   # check every page
#   scripts/docs-check.sh --screenshots DIR # also write DIR/rendered-partition.png and
#                                           # DIR/rendered-loss.png (the committed ones: docs/)
#
# Needs cargo, npm, python3 and chromium (installed with apt-get when missing).
set -euo pipefail
cd "$(dirname "$0")/.."

shots=""
if [ "${1:-}" = "--screenshots" ]; then
    shots="$(realpath -m "${2:?--screenshots needs a folder}")"
fi

for tool in chromium npm python3; do
    if ! command -v "$tool" >/dev/null; then
        apt-get update -qq && apt-get install -y -qq chromium nodejs npm python3 >/dev/null
        break
    fi
done

header=docs/katex-header.html
base="$(grep -o 'https://[^"]*/katex@[0-9.]*/' "$header" | head -1)"
version="${base##*katex@}"
version="${version%/}"
[ -n "$base" ] && [ -n "$version" ] || { echo "no pinned KaTeX URL in $header" >&2; exit 1; }

echo "== cargo doc-math"
env -u RUSTDOCFLAGS cargo doc-math --locked

work="$(mktemp -d)"
server=""
cleanup() {
    if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

echo "== KaTeX $version from the npm registry"
(cd "$work" && npm pack --silent "katex@$version" >/dev/null && tar xzf "katex-$version.tgz")
mv "$work/package" "$work/katex"
# The docs as built, with the CDN's address of the pinned release replaced by this server's.
cp -r target/doc "$work/doc"
find "$work/doc" -name '*.html' -exec sed -i "s#$base#/katex/#g" {} +

(cd "$work/doc" && find dpo_oracle -name '*.html' | sort) > "$work/pages.txt"
python3 - "$work" <<'EOF'
import json, pathlib, sys
work = pathlib.Path(sys.argv[1])
pages = (work / "pages.txt").read_text().split()
(work / "check.html").write_text("""<!doctype html><meta charset="utf-8"><body><pre id="result">running</pre>
<script>
const pages = %s;
const results = [];
let running = 0;
// Text outside code, scripts and typeset maths: where a raw `$` would show.
function rawDollars(doc) {
  const skip = new Set(["CODE", "PRE", "SCRIPT", "STYLE", "TEXTAREA", "NOSCRIPT", "TITLE"]);
  const walk = doc.createTreeWalker(doc.body, NodeFilter.SHOW_TEXT, { acceptNode(n) {
    for (let e = n.parentElement; e; e = e.parentElement) {
      if (skip.has(e.tagName) || e.classList.contains("katex")) return NodeFilter.FILTER_REJECT;
    }
    return n.data.includes("$") ? NodeFilter.FILTER_ACCEPT : NodeFilter.FILTER_REJECT;
  }});
  const found = [];
  while (walk.nextNode()) found.push(walk.currentNode.data.trim().slice(0, 120));
  return found;
}
// Four frames take the pages in turn; KaTeX has typeset a page when its load event fires.
function next(frame) {
  const i = results.length + running;
  if (i >= pages.length) {
    if (running === 0) document.getElementById("result").textContent = JSON.stringify(results);
    return;
  }
  running++;
  frame.onload = () => setTimeout(() => {
    const doc = frame.contentDocument;
    results.push({
      page: pages[i],
      katex: typeof frame.contentWindow.katex === "object",
      formulas: doc.querySelectorAll(".katex").length,
      errors: [...doc.querySelectorAll(".katex-error")].map(e => e.title || e.textContent),
      raw: rawDollars(doc),
    });
    running--;
    next(frame);
  }, 0);
  frame.src = "/doc/" + pages[i];
}
for (let k = 0; k < 4; k++) {
  const frame = document.createElement("iframe");
  frame.width = 1280;
  frame.height = 800;
  document.body.appendChild(frame);
  next(frame);
}
</script>""" % json.dumps(pages))
EOF

port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
python3 -m http.server "$port" --bind 127.0.0.1 --directory "$work" >/dev/null 2>&1 &
server=$!
for _ in $(seq 50); do
    python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/check.html')" 2>/dev/null && break
    sleep 0.2
done

chrome() {
    chromium --headless --no-sandbox --disable-gpu --disable-background-networking \
        --disable-component-update --disable-sync --disable-quic --no-first-run \
        --user-data-dir="$(mktemp -d -p "$work")" "$@" 2>/dev/null
}

echo "== every page in headless Chromium"
chrome --virtual-time-budget=600000 --dump-dom "http://127.0.0.1:$port/check.html" > "$work/dom.html"
python3 - "$work/dom.html" <<'EOF'
import html, json, re, sys
dom = open(sys.argv[1]).read()
m = re.search(r'<pre id="result">(.*?)</pre>', dom, re.S)
if not m or m.group(1) == "running":
    sys.exit("the check page did not finish")
results = json.loads(html.unescape(m.group(1)))
bad = 0
for r in results:
    problems = []
    if not r["katex"]:
        problems.append("KaTeX did not load")
    problems += ["KaTeX error: " + e for e in r["errors"]]
    problems += ["raw `$`: " + t for t in r["raw"]]
    for p in problems:
        print(f"{r['page']}: {p}")
    bad += bool(problems)
formulas = sum(r["formulas"] for r in results)
print(f"{len(results)} pages, {formulas} formulas typeset")
print(f"{bad} of {len(results)} pages with a problem")
sys.exit(1 if bad else 0)
EOF

if [ -n "$shots" ]; then
    mkdir -p "$shots"
    for module in partition loss; do
        chrome --virtual-time-budget=20000 --hide-scrollbars --window-size=1280,2000 \
            --screenshot="$shots/rendered-$module.png" \
            "http://127.0.0.1:$port/doc/dpo_oracle/$module/index.html" >/dev/null
        echo "wrote $shots/rendered-$module.png"
    done
fi
