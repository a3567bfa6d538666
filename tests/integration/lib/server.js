'use strict';
// Start/stop/restart a real kiln binary for tests, plus a tiny raw-HTTP helper.
//
//   const { KilnServer, request } = require('./lib/server');
//   const srv = await KilnServer.start();          // free port, fresh temp data dir
//   const r = await request(srv.url, 'PUT', '/books', { settings: {} });
//   await srv.kill();  await srv.restart();         // SIGKILL, then same data dir
//   await srv.stop();                               // SIGTERM, removes temp dir it made
//
// The binary is $KILN_BIN, else <repo>/build/kiln. Everything the server prints goes to an
// in-memory log (srv.log()) and, with KILN_TEST_VERBOSE=1, to stderr.

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const net = require('node:net');
const http = require('node:http');

const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');
const MAX_LOG = 256 * 1024; // keep the last 256 KiB of server output

function defaultBinary() {
  if (process.env.KILN_BIN) return path.resolve(process.env.KILN_BIN);
  return path.join(REPO_ROOT, 'build', 'kiln');
}

/** A TCP port that was free a moment ago on 127.0.0.1. */
function freePort(host = '127.0.0.1') {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, host, () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Raw HTTP: request(baseUrl, method, path, body?, headers?, opts?) →
 *   { status, headers, text, body }  (body = parsed JSON, or null when empty / not JSON)
 * body: string/Buffer sent as is; an array is sent as NDJSON (each item one line, objects
 * JSON-encoded); any other object is JSON-encoded. opts: { agent, timeoutMs }.
 * Never throws on HTTP status; throws on connection errors.
 */
function request(baseUrl, method, p, body, headers = {}, opts = {}) {
  const u = new URL(p, baseUrl);
  let payload = null;
  const hdrs = { ...headers };
  const hasCT = Object.keys(hdrs).some((k) => k.toLowerCase() === 'content-type');
  if (body !== undefined && body !== null) {
    if (Buffer.isBuffer(body) || typeof body === 'string') {
      payload = Buffer.isBuffer(body) ? body : Buffer.from(body);
      if (!hasCT) hdrs['Content-Type'] = 'application/json';
    } else if (Array.isArray(body)) {
      payload = Buffer.from(body.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n') + '\n');
      if (!hasCT) hdrs['Content-Type'] = 'application/x-ndjson';
    } else {
      payload = Buffer.from(JSON.stringify(body));
      if (!hasCT) hdrs['Content-Type'] = 'application/json';
    }
    hdrs['Content-Length'] = payload.length;
  }
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: u.hostname,
        port: u.port,
        method,
        path: u.pathname + u.search,
        headers: hdrs,
        agent: opts.agent || false,
      },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed = null;
          if (text.length) {
            try {
              parsed = JSON.parse(text);
            } catch {
              parsed = null;
            }
          }
          resolve({ status: res.statusCode, headers: res.headers, text, body: parsed });
        });
        res.on('error', reject);
        res.on('close', () => {
          if (!res.complete) reject(new Error('connection closed before the response was complete'));
        });
      }
    );
    req.on('error', reject);
    if (opts.timeoutMs) {
      req.setTimeout(opts.timeoutMs, () => req.destroy(new Error(`timeout after ${opts.timeoutMs} ms: ${method} ${p}`)));
    }
    if (payload) req.write(payload);
    req.end();
  });
}

class KilnServer {
  /**
   * opts: { bin, dataDir (default: fresh temp dir, removed by stop() unless keepData),
   *         port (default: free port), bind ('127.0.0.1'), args ([] extra flags), env,
   *         readyTimeoutMs (20000) }
   */
  constructor(opts = {}) {
    this.bin = opts.bin || defaultBinary();
    this.bind = opts.bind || '127.0.0.1';
    this.port = opts.port || 0;
    this.args = opts.args || [];
    this.env = opts.env || {};
    this.readyTimeoutMs = opts.readyTimeoutMs || 20000;
    this.ownsDataDir = !opts.dataDir;
    this.dataDir = opts.dataDir || fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-test-'));
    this.keepData = !!opts.keepData;
    this.proc = null;
    this.exitInfo = null;
    this._log = '';
    this.starts = 0;
  }

  static async start(opts) {
    const s = new KilnServer(opts);
    await s.start();
    return s;
  }

  get url() {
    return `http://${this.bind}:${this.port}`;
  }

  get pid() {
    return this.proc ? this.proc.pid : null;
  }

  /** Server output so far (stdout+stderr interleaved, last 256 KiB). */
  log() {
    return this._log;
  }

  /** Last n lines of the log, for failure messages. */
  tail(n = 40) {
    return this._log.split('\n').slice(-n - 1).join('\n');
  }

  _append(chunk) {
    const s = chunk.toString();
    if (process.env.KILN_TEST_VERBOSE) process.stderr.write(s);
    this._log += s;
    if (this._log.length > MAX_LOG) this._log = this._log.slice(-MAX_LOG);
  }

  async start() {
    if (this.proc) throw new Error('kiln already running');
    if (!fs.existsSync(this.bin)) {
      throw new Error(`kiln binary not found at ${this.bin} (build it, or set KILN_BIN)`);
    }
    const pinned = !!this.port;
    for (let attempt = 0; ; attempt++) {
      if (!pinned) this.port = await freePort(this.bind);
      try {
        await this._spawnAndWait();
        return this;
      } catch (e) {
        // Another process may have taken the port between freePort() and bind(): retry.
        if (!pinned && attempt < 3 && this.exitInfo && /address already in use|EADDRINUSE|bind/i.test(this.tail(5))) {
          continue;
        }
        throw e;
      }
    }
  }

  async _spawnAndWait() {
    const args = ['--bind', this.bind, '--port', String(this.port), '--data', this.dataDir, ...this.args];
    this.exitInfo = null;
    this._append(`--- [harness] start #${++this.starts}: ${this.bin} ${args.join(' ')}\n`);
    const proc = spawn(this.bin, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...this.env },
    });
    this.proc = proc;
    proc.stdout.on('data', (c) => this._append(c));
    proc.stderr.on('data', (c) => this._append(c));
    this._exited = new Promise((resolve) => {
      proc.on('exit', (code, signal) => {
        this.exitInfo = { code, signal };
        this._append(`--- [harness] kiln exited code=${code} signal=${signal}\n`);
        if (this.proc === proc) this.proc = null;
        resolve(this.exitInfo);
      });
    });
    proc.on('error', (e) => this._append(`--- [harness] spawn error: ${e.message}\n`));

    const deadline = Date.now() + this.readyTimeoutMs;
    let lastErr = null;
    while (Date.now() < deadline) {
      if (this.exitInfo) {
        throw new Error(`kiln exited before ready (code=${this.exitInfo.code} signal=${this.exitInfo.signal})\n${this.tail()}`);
      }
      try {
        const r = await request(this.url, 'GET', '/', null, {}, { timeoutMs: 1000 });
        if (r.status === 200) return;
        lastErr = new Error(`GET / answered ${r.status}`);
      } catch (e) {
        lastErr = e;
      }
      await sleep(25);
    }
    await this.kill();
    throw new Error(`kiln not ready after ${this.readyTimeoutMs} ms (${lastErr && lastErr.message})\n${this.tail()}`);
  }

  /** Send a signal and wait for exit; escalates to SIGKILL after timeoutMs. */
  async stop({ signal = 'SIGTERM', timeoutMs = 10000, removeData = true } = {}) {
    if (this.proc) {
      const proc = this.proc;
      proc.kill(signal);
      const t = setTimeout(() => {
        this._append(`--- [harness] no exit ${timeoutMs} ms after ${signal}: SIGKILL\n`);
        proc.kill('SIGKILL');
      }, timeoutMs);
      await this._exited;
      clearTimeout(t);
    }
    if (removeData && this.ownsDataDir && !this.keepData) {
      fs.rmSync(this.dataDir, { recursive: true, force: true });
    }
    return this.exitInfo;
  }

  /** SIGKILL now; keeps the data dir. */
  async kill() {
    if (!this.proc) return this.exitInfo;
    this.proc.kill('SIGKILL');
    return this._exited;
  }

  /** Stop (SIGTERM by default, or { signal: 'SIGKILL' }) and start again on the same data dir and port. */
  async restart({ signal = 'SIGTERM' } = {}) {
    await this.stop({ signal, removeData: false });
    // The port stays the same so clients keep their base URL; retry briefly if TIME_WAIT bites.
    const pinned = this.port;
    for (let i = 0; ; i++) {
      try {
        this.port = pinned;
        await this._spawnAndWait();
        return this;
      } catch (e) {
        if (i < 20 && this.exitInfo && /address already in use|EADDRINUSE/i.test(this.tail(5))) {
          await sleep(100);
          continue;
        }
        throw e;
      }
    }
  }

  /** Resident set size in KiB from /proc/PID/status (VmRSS), or null. */
  rssKiB() {
    if (!this.proc) return null;
    return readRssKiB(this.proc.pid);
  }
}

function readRssKiB(pid) {
  try {
    const s = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(s);
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

module.exports = { KilnServer, request, freePort, defaultBinary, readRssKiB, sleep, REPO_ROOT };
