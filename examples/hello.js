// The bundled example app that `npm start` serves: an ordinary node:http-style (req, res) handler, nothing
// SCGI-specific in it. Query it with `node dist/src/cli/main.js request /hello?name=you` once it says ready.

export default function hello(req, res) {
  const body = `Hello from scgi-supervise (pid ${process.pid})!\n${req.method} ${req.url}\n`;
  res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body) });
  res.end(req.method === 'HEAD' ? undefined : body);
}
