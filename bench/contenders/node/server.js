// Avatars from memory with Node's plain http module, as a careful operator writes it.
//   node server.js PORT AVATAR_DIR
// The folder is read once at start: /<uid> answers the first of <uid>.png .jpg .jpeg .gif (the
// pseudo-static scheme of the nginx contender), anything else the default picture -1.png. Each
// answer's headers are built once too, so a request is a map lookup and one write.
'use strict';
const fs = require('fs');
const http = require('http');
const path = require('path');

const [port, dir] = process.argv.slice(2);
const TYPES = { '.png': 'image/png', '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.gif': 'image/gif' };
const ORDER = Object.keys(TYPES);

// uid -> { body, headers }; the first extension in ORDER wins, as with try_files.
const avatars = new Map();
for (const name of fs.readdirSync(dir).sort((a, b) => ORDER.indexOf(path.extname(a)) - ORDER.indexOf(path.extname(b)))) {
  const ext = path.extname(name);
  const uid = name.slice(0, -ext.length);
  if (!(ext in TYPES) || avatars.has(uid)) continue;
  const file = path.join(dir, name);
  const st = fs.statSync(file);
  avatars.set(uid, {
    body: fs.readFileSync(file),
    headers: {
      'Content-Type': TYPES[ext],
      'Content-Length': st.size,
      'Cache-Control': 'public, max-age=7200',
      'ETag': `"${Math.floor(st.mtimeMs).toString(16)}-${st.size.toString(16)}"`,
      'Last-Modified': st.mtime.toUTCString(),
    },
  });
}
const fallback = avatars.get('-1');
if (!fallback) {
  console.error(`${dir}: no default picture -1.png`);
  process.exit(1);
}

const server = http.createServer((req, res) => {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { 'Allow': 'GET, HEAD', 'Content-Type': 'application/json' });
    res.end('{"error": "method not allowed"}');
    return;
  }
  const q = req.url.indexOf('?');
  const a = avatars.get((q < 0 ? req.url : req.url.slice(0, q)).slice(1)) || fallback;
  if (req.headers['if-none-match'] === a.headers.ETag) {
    res.writeHead(304, { 'ETag': a.headers.ETag, 'Cache-Control': a.headers['Cache-Control'] });
    res.end();
    return;
  }
  res.writeHead(200, a.headers);
  res.end(req.method === 'HEAD' ? undefined : a.body);
});
// Idle keep-alive connections live as long as with nginx (Node's default is 5 s); Node caps no
// request count per connection (maxRequestsPerSocket 0).
server.keepAliveTimeout = 75 * 1000;
server.listen({ host: '127.0.0.1', port: Number(port), backlog: 4096 });
