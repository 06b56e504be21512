// Reading what test/fixtures/apps/life-echo.cjs reports (the request as the app saw it) from a raw exchange.
import assert from 'node:assert/strict';
import { exchange, parseResponse, request, show, type Outcome, type Target } from './scgi-raw.js';

export interface Echo {
  pid: number;
  method: string;
  url: string;
  headers: Record<string, string>;
  bodyBase64: string;
  bodyLength: number;
  envHttpProxy: string | null;
}

/** The app's report, after checking the exchange ended normally (FIN) with a 200. */
export function echoOf(o: Outcome): Echo {
  assert.equal(o.ending, 'fin', show(o));
  const res = parseResponse(o.data);
  assert.equal(res.status, 200, show(o));
  return JSON.parse(res.body.toString('utf8')) as Echo;
}

/** The pid of the worker that served one GET /pid. */
export async function echoPid(target: Target): Promise<number> {
  return echoOf(await exchange(target, [request('GET', '/pid')])).pid;
}
