import { lookup } from 'node:dns/promises';
import http from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import { performance } from 'node:perf_hooks';
import { type AllowList, refusal } from '../../domain/ssrf-guard.ts';
import { type OutgoingRequest, RESPONSE_BODY_LIMIT, type SendOutcome, type WebhookSender } from '../../domain/webhook-delivery.ts';

const MAX_REDIRECTS = 3;

class Refused extends Error {}

interface Answer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * Delivers webhooks with Node's http/https, pinned to checked addresses: the name is resolved
 * once, every address is checked by the SSRF guard, and the connection goes to the checked
 * address (the Host header and TLS name stay the URL's), so DNS rebinding between check and
 * connect cannot redirect it. Redirects are not followed unless configured, and each hop is
 * checked again.
 */
export class HttpWebhookSender implements WebhookSender {
  constructor(private readonly options: { allow: AllowList; followRedirects: boolean }) {}

  async vet(url: string): Promise<string | null> {
    try {
      await this.resolve(new URL(url));
      return null;
    } catch (err) {
      // A name that does not resolve yet is not refused: it is checked again on every delivery.
      return err instanceof Refused ? err.message : null;
    }
  }

  async send(request: OutgoingRequest): Promise<SendOutcome> {
    const started = performance.now();
    const deadline = started + request.timeoutMs;
    const elapsed = () => performance.now() - started;
    try {
      let url = new URL(request.url);
      for (let hop = 0; ; hop++) {
        const address = await this.resolve(url);
        const answer = await this.post(url, address, request, Math.max(1, deadline - performance.now()));
        const location = answer.headers.location;
        if (!this.options.followRedirects || answer.status < 300 || answer.status >= 400 || !location || hop >= MAX_REDIRECTS) {
          return { kind: 'response', ...answer, durationMs: elapsed() };
        }
        url = new URL(location, url);
        if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Refused(`redirect to a ${url.protocol} URL refused`);
      }
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      return { kind: 'error', message, retryable: !(err instanceof Refused), durationMs: elapsed() };
    }
  }

  /** Every address the name resolves to must pass; the first is used. */
  private async resolve(url: URL): Promise<{ address: string; family: number }> {
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Refused(`${url.protocol} URLs are not allowed`);
    const hostname = url.hostname.replace(/^\[|\]$/g, '');
    const addresses = isIP(hostname) ? [{ address: hostname, family: isIP(hostname) }] : await lookup(hostname, { all: true, verbatim: true });
    if (addresses.length === 0) throw new Error(`${hostname} does not resolve`);
    for (const { address } of addresses) {
      const reason = refusal(hostname, address, this.options.allow);
      if (reason) throw new Refused(reason);
    }
    return addresses[0]!;
  }

  private post(url: URL, target: { address: string; family: number }, request: OutgoingRequest, timeoutMs: number): Promise<Answer> {
    const isHttps = url.protocol === 'https:';
    const hostname = url.hostname.replace(/^\[|\]$/g, '');
    return new Promise<Answer>((resolve, reject) => {
      const req = (isHttps ? https : http).request({
        host: target.address,
        family: target.family,
        port: url.port || (isHttps ? 443 : 80),
        path: url.pathname + url.search,
        method: 'POST',
        headers: { ...request.headers, Host: url.host, 'Content-Length': String(Buffer.byteLength(request.body)) },
        servername: isIP(hostname) ? undefined : hostname,
        agent: false,
      });
      const timer = setTimeout(() => req.destroy(new Error(`timed out after ${Math.round(timeoutMs)} ms`)), timeoutMs);
      req.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      req.once('response', (res) => {
        const chunks: Buffer[] = [];
        let kept = 0;
        const finish = () => {
          clearTimeout(timer);
          const headers: Record<string, string> = {};
          for (const [name, value] of Object.entries(res.headers)) if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
          resolve({ status: res.statusCode ?? 0, headers, body: Buffer.concat(chunks).toString('utf8') });
          res.destroy();
        };
        res.on('data', (chunk: Buffer) => {
          if (kept >= RESPONSE_BODY_LIMIT) return;
          const part = chunk.subarray(0, RESPONSE_BODY_LIMIT - kept);
          chunks.push(part);
          kept += part.length;
          // The first 64 KiB is all the log keeps: stop reading a huge answer there.
          if (kept >= RESPONSE_BODY_LIMIT) finish();
        });
        res.once('end', finish);
        res.once('error', (err) => {
          clearTimeout(timer);
          reject(err);
        });
        // A connection cut mid-answer (or destroyed by the timeout) must settle the attempt too.
        res.once('close', () => {
          clearTimeout(timer);
          if (!res.complete && kept < RESPONSE_BODY_LIMIT) reject(new Error('the connection closed before the answer was complete'));
        });
      });
      req.end(request.body);
    });
  }
}
