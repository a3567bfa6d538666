'use strict';
// node:test fixture: one kiln server per test file, the OpenSearch JS client and raw HTTP.
//
//   const { useServer } = require('./lib/fixture');
//   const k = useServer();                 // registers before()/after() hooks
//   const test = k.test;                   // node:test's test(), failures show the server log
//   test('x', async () => { await k.client.indices.create({ index: 'a' }); k.raw('GET', '/a'); });
//
// The server log is written to $TMPDIR/kiln-<file>-<pid>.log when the file ends, and its path
// printed, so a failing run can be read; KILN_TEST_VERBOSE=1 streams it live.

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { before, after, test } = require('node:test');
const { Client } = require('@opensearch-project/opensearch');
const { KilnServer, request } = require('./server');

function useServer(opts = {}) {
  const k = {
    srv: null,
    client: null,
    url: null,
    raw: (method, p, body, headers) => request(k.url, method, p, body, headers),
    newClient: () => new Client({ node: k.url, maxRetries: 0, requestTimeout: 30000 }),
    /**
     * node:test's test(), but a failure message ends with the tail of the server's log.
     * Same signature: test(name, [options], fn); options such as { todo: 'reason' } pass through.
     */
    test: (name, opts, fn) => {
      if (typeof opts === 'function') [opts, fn] = [{}, opts];
      return test(name, opts, async (t) => {
        try {
          await fn(t);
        } catch (e) {
          if (k.srv && e && typeof e === 'object') {
            try {
              e.message = `${e.message}\n--- kiln log (tail) ---\n${k.srv.tail(25)}`;
            } catch {
              /* read-only message */
            }
          }
          throw e;
        }
      });
    },
    /** Restart the server on the same data dir (SIGTERM or SIGKILL) with a fresh client. */
    restart: async (signal = 'SIGTERM') => {
      await k.client.close();
      await k.srv.restart({ signal });
      k.client = k.newClient();
    },
  };
  before(async () => {
    k.srv = await KilnServer.start(opts);
    k.url = k.srv.url;
    k.client = k.newClient();
  });
  after(async () => {
    if (k.client) await k.client.close();
    if (k.srv) {
      const name = path.basename(require.main ? require.main.filename : 'test', '.js');
      const logFile = path.join(os.tmpdir(), `kiln-${name}-${process.pid}.log`);
      fs.writeFileSync(logFile, k.srv.log());
      process.stdout.write(`# kiln log: ${logFile}\n`);
      await k.srv.stop();
    }
  });
  return k;
}

/** Run fn, expect it to throw an OpenSearch ResponseError; returns { statusCode, body }. */
async function expectError(fn) {
  try {
    await fn();
  } catch (e) {
    if (e.meta && e.meta.statusCode) return { statusCode: e.meta.statusCode, body: e.meta.body };
    throw e;
  }
  throw new Error('expected an error response, the call succeeded');
}

module.exports = { useServer, expectError };
