// The HTTP face of the simulator: ARM routing (case-insensitive, as ARM matches segments), bearer
// check, api-version, paging with absolute nextLinks, the CloudError envelope, ARM's usual response
// headers, and injected faults. Test-only inspection lives under `/_sim/`, outside ARM's namespace.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { normalizeSource } from '../core/cidr';
import { ArmError, JIT_API_VERSIONS, badRequest, seededRandom } from './arm';
import type { GuardListener } from './guard';
import type { SimState } from './state';

export interface SimFaults {
  /** Share of ARM calls answered 429 with `Retry-After` (0–1). */
  throttleRate?: number;
  /** Share of ARM calls answered 500 (0–1). */
  errorRate?: number;
  /** Share of ARM calls answered late (0–1); the work is done at once, only the answer waits. */
  slowRate?: number;
  slowMs?: number;
  retryAfterSeconds?: number;
  /** Makes the fault sequence repeatable. */
  seed?: number;
}

export type SimFault = 'throttle' | 'error' | 'slow';

export interface SimRequestLogEntry {
  /** Wall-clock time the answer was decided (not the simulated clock); a slow answer leaves later. */
  at: string;
  method: string;
  /** Path and query; no headers are kept, so no token ever lands here. */
  path: string;
  status: number;
  fault?: SimFault;
  clientRequestId?: string;
  correlationRequestId?: string;
}

interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

type Operation = 'read' | 'write' | 'delete';

const MAX_BODY_BYTES = 1 << 20;
const MAX_LOG_ENTRIES = 1000;
const RATE_LIMITS: Record<Operation, number> = { read: 12_000, write: 1_200, delete: 15_000 };
const COMPUTE_API_VERSION = /^\d{4}-\d{2}-\d{2}(?:-preview)?$/;

export interface ArmServerDeps {
  state: SimState;
  baseUrl(): string;
  pageSize: number;
  faults: SimFaults;
  afterPolicyWrite(): Promise<void>;
  guards(): GuardListener[];
}

export class ArmServer {
  readonly requestLog: SimRequestLogEntry[] = [];
  private faults: SimFaults;
  private random: () => number;
  private readonly timers = new Set<NodeJS.Timeout>();
  private usageWindowStart = Date.now();
  private readonly usage: Record<Operation, number> = { read: 0, write: 0, delete: 0 };

  constructor(private readonly deps: ArmServerDeps) {
    this.faults = { ...deps.faults };
    this.random = seededRandom(deps.faults.seed ?? Date.now());
  }

  setFaults(faults: SimFaults): void {
    this.faults = { ...faults };
    if (faults.seed !== undefined) this.random = seededRandom(faults.seed);
  }

  /** Cancels answers still waiting on an injected delay (shutdown). */
  cancelPending(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  handle(req: IncomingMessage, res: ServerResponse): void {
    this.respond(req, res).catch((err: unknown) => {
      const reply = toReply(err instanceof ArmError ? err : new ArmError(500, 'InternalServerError', 'Internal server error has occurred.'));
      this.send(req, res, reply);
    });
  }

  private async respond(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://sim.invalid');
    const segments = url.pathname
      .split('/')
      .filter((s) => s !== '')
      .map(safeDecode);
    if (segments[0]?.toLowerCase() === '_sim') {
      if (segments[1] === 'control' && segments.length === 2) {
        this.send(req, res, await this.control(req), undefined, false);
        return;
      }
      this.send(req, res, this.inspect(segments.slice(1), url, req.method ?? 'GET'), undefined, false);
      return;
    }
    const method = (req.method ?? 'GET').toUpperCase();
    const operation: Operation = method === 'GET' || method === 'HEAD' ? 'read' : method === 'DELETE' ? 'delete' : 'write';
    const body = await readBody(req);
    const authorization = req.headers.authorization;
    if (typeof authorization !== 'string' || !/^Bearer\s+\S+/i.test(authorization)) {
      this.send(req, res, {
        ...toReply(new ArmError(401, 'AuthenticationFailed', "Authentication failed. The 'Authorization' header is missing.")),
        headers: { 'WWW-Authenticate': 'Bearer authorization_uri="https://login.microsoftonline.com/common", error="invalid_token", error_description="The authentication failed because of missing \'Authorization\' header."' },
      });
      return;
    }
    const fault = this.pickFault();
    if (fault === 'throttle') {
      const seconds = this.faults.retryAfterSeconds ?? 1;
      this.send(req, res, {
        ...toReply(new ArmError(429, 'SubscriptionRequestsThrottled', `Number of '${operation}' requests for subscription '${this.deps.state.subscriptionId}' exceeded. Please try again after '${seconds}' seconds.`)),
        headers: { 'Retry-After': String(seconds), [`x-ms-ratelimit-remaining-subscription-${operation}s`]: '0' },
      }, fault);
      return;
    }
    if (fault === 'error') {
      this.send(req, res, toReply(new ArmError(500, 'InternalServerError', 'Internal server error has occurred.')), fault);
      return;
    }
    this.countUsage(operation);
    let reply: Reply;
    try {
      reply = await this.route(segments, url, method, body, req);
    } catch (err) {
      if (!(err instanceof ArmError)) throw err;
      reply = toReply(err);
    }
    reply.headers = { ...reply.headers, [`x-ms-ratelimit-remaining-subscription-${operation}s`]: String(this.remaining(operation)) };
    if (fault === 'slow') {
      this.record(req, reply.status, fault);
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        this.send(req, res, reply, fault, false);
      }, this.faults.slowMs ?? 2_000);
      this.timers.add(timer);
      return;
    }
    this.send(req, res, reply);
  }

  private async route(segments: string[], url: URL, method: string, rawBody: string, req: IncomingMessage): Promise<Reply> {
    const lower = segments.map((s) => s.toLowerCase());
    const notFound = () => new ArmError(404, 'InvalidResourceType', `The resource type could not be found in the namespace for the path '${url.pathname}'.`);
    if (lower[0] !== 'subscriptions' || segments.length < 4) throw notFound();
    const subscriptionId = segments[1];
    let i = 2;
    let resourceGroup: string | undefined;
    if (lower[i] === 'resourcegroups') {
      resourceGroup = segments[i + 1];
      i += 2;
    }
    if (lower[i] !== 'providers' || segments[i + 1] === undefined) throw notFound();
    const provider = lower[i + 1];
    i += 2;
    const { state } = this.deps;
    const checkScope = () => {
      if (!state.isSubscription(subscriptionId)) {
        throw new ArmError(404, 'SubscriptionNotFound', `The subscription '${subscriptionId}' could not be found.`);
      }
      if (resourceGroup !== undefined) state.requireResourceGroup(resourceGroup);
    };

    if (provider === 'microsoft.security' && lower[i] === 'pricings' && resourceGroup === undefined && segments.length === i + 2) {
      requirePricingApiVersion(url);
      requireMethod(method, ['GET']);
      checkScope();
      return { status: 200, body: state.getPricing(segments[i + 1]) };
    }

    if (provider === 'microsoft.security') {
      let location: string | undefined;
      if (lower[i] === 'locations' && segments[i + 1] !== undefined) {
        location = segments[i + 1];
        i += 2;
      }
      if (lower[i] !== 'jitnetworkaccesspolicies') throw notFound();
      const rest = segments.slice(i + 1);
      const apiVersion = requireJitApiVersion(url);
      if (rest.length === 0) {
        requireMethod(method, ['GET']);
        checkScope();
        return this.page(state.listPolicies({ resourceGroup, location }), url, apiVersion, this.publicBase(req));
      }
      if (resourceGroup === undefined || location === undefined || rest.length > 2) throw notFound();
      const name = rest[0];
      if (rest.length === 2) {
        if (rest[1].toLowerCase() !== 'initiate') throw notFound();
        requireMethod(method, ['POST']);
        checkScope();
        return { status: 202, body: state.initiate(resourceGroup, location, name, parseJson(rawBody), callerAddress(req)) };
      }
      requireMethod(method, ['GET', 'PUT', 'DELETE']);
      checkScope();
      if (method === 'GET') return { status: 200, body: state.getPolicy(resourceGroup, location, name) };
      if (method === 'PUT') {
        const body = state.putPolicy(resourceGroup, location, name, parseJson(rawBody));
        await this.deps.afterPolicyWrite();
        return { status: 200, body };
      }
      const existed = state.deletePolicy(resourceGroup, location, name);
      return { status: existed ? 200 : 204 };
    }

    if (provider === 'microsoft.compute' && lower[i] === 'virtualmachines') {
      const rest = segments.slice(i + 1);
      const apiVersion = url.searchParams.get('api-version');
      if (!apiVersion) throw missingApiVersion();
      if (!COMPUTE_API_VERSION.test(apiVersion)) {
        throw badRequest(`The api-version '${apiVersion}' is invalid. The supported versions are dates like '2024-07-01'.`, 'InvalidApiVersionParameter');
      }
      requireMethod(method, ['GET']);
      checkScope();
      if (rest.length === 0) return this.page(state.listComputeVms(resourceGroup), url, apiVersion, this.publicBase(req));
      if (rest.length === 1 && resourceGroup !== undefined) return { status: 200, body: state.getComputeVm(resourceGroup, rest[0]) };
    }
    throw notFound();
  }

  /**
   * POST /_sim/control `{ applyDelayMs?, applyFailure?: { vm, message|null }, defender? }`: changes
   * what later calls see, for tests run from outside the process and for trying things locally.
   */
  private async control(req: IncomingMessage): Promise<Reply> {
    try {
      if ((req.method ?? 'GET').toUpperCase() !== 'POST') throw new ArmError(405, 'MethodNotAllowed', 'POST a JSON body to /_sim/control.', { Allow: 'POST' });
      const body = parseJson(await readBody(req));
      if (typeof body !== 'object' || body === null || Array.isArray(body)) throw badRequest('The control body must be a JSON object.');
      const { applyDelayMs, applyFailure, defender } = body as Record<string, unknown>;
      const { state } = this.deps;
      if (applyDelayMs !== undefined) {
        if (typeof applyDelayMs !== 'number' || !Number.isFinite(applyDelayMs) || applyDelayMs < 0) throw badRequest('applyDelayMs must be a number of milliseconds, 0 or more.');
        state.setApplyDelay(applyDelayMs);
      }
      if (applyFailure !== undefined) {
        const f = applyFailure as { vm?: unknown; message?: unknown } | null;
        if (!f || typeof f.vm !== 'string' || (f.message !== null && typeof f.message !== 'string')) {
          throw badRequest('applyFailure must be { "vm": "<name>", "message": "<words>" or null }.');
        }
        state.setApplyFailure(f.vm, f.message as string | null);
      }
      if (defender !== undefined) {
        const d = defender as { pricingTier?: unknown; subPlan?: unknown } | null;
        if (!d || (d.pricingTier !== 'Free' && d.pricingTier !== 'Standard') || (d.subPlan !== undefined && typeof d.subPlan !== 'string')) {
          throw badRequest('defender must be { "pricingTier": "Free" | "Standard", "subPlan"?: "P1" | "P2" }.');
        }
        state.setDefender({ pricingTier: d.pricingTier, ...(typeof d.subPlan === 'string' ? { subPlan: d.subPlan } : {}) });
      }
      return { status: 204 };
    } catch (err) {
      if (err instanceof ArmError) return toReply(err);
      throw err;
    }
  }

  private inspect(segments: string[], url: URL, method: string): Reply {
    try {
      if (method !== 'GET') throw new ArmError(405, 'MethodNotAllowed', 'The simulator inspection routes only answer GET.');
      const { state } = this.deps;
      if (segments[0] === 'nsg' && segments.length === 2) {
        return { status: 200, body: { vm: segments[1], rules: state.nsg(segments[1]) } };
      }
      if (segments[0] === 'check' && segments.length === 1) {
        const vm = url.searchParams.get('vm');
        const port = Number(url.searchParams.get('port'));
        const source = url.searchParams.get('source');
        if (!vm || !Number.isInteger(port) || port < 0 || port > 65535 || !source) {
          throw badRequest('Use /_sim/check?vm=<name>&port=<number>&source=<ip>.');
        }
        return { status: 200, body: state.check(vm, port, source) };
      }
      if (segments[0] === 'guard' && segments.length === 1) {
        return { status: 200, body: { value: this.deps.guards() } };
      }
      throw new ArmError(404, 'NotFound', 'Simulator routes: /_sim/nsg/{vm}, /_sim/check?vm=&port=&source=, /_sim/guard, POST /_sim/control.');
    } catch (err) {
      if (err instanceof ArmError) return toReply(err);
      throw err;
    }
  }

  private page(items: object[], url: URL, apiVersion: string, base: string): Reply {
    const token = url.searchParams.get('$skipToken');
    let offset = 0;
    if (token !== null) {
      const decoded = decodeSkipToken(token);
      if (decoded === null) throw badRequest(`The $skipToken '${token}' is not valid.`, 'InvalidSkipToken');
      offset = decoded;
    }
    const size = Math.max(1, this.deps.pageSize);
    const value = items.slice(offset, offset + size);
    const body: { value: object[]; nextLink?: string } = { value };
    if (offset + size < items.length) {
      const next = new URL(url.pathname, base);
      next.searchParams.set('api-version', apiVersion);
      next.searchParams.set('$skipToken', Buffer.from(JSON.stringify({ o: offset + size })).toString('base64url'));
      body.nextLink = next.toString();
    }
    return { status: 200, body };
  }

  /**
   * The base URL the client believes it is talking to. A client reaching the simulator through a
   * redirect or proxy says so with X-Forwarded-Host/-Proto; nextLinks must point there, since the
   * Azure SDK follows them verbatim and refuses to send a token to a plain-http URL.
   */
  private publicBase(req: IncomingMessage): string {
    const host = header(req, 'x-forwarded-host');
    if (!host || !/^[\w.-]+(?::\d+)?$/.test(host)) return this.deps.baseUrl();
    const proto = header(req, 'x-forwarded-proto') === 'http' ? 'http' : 'https';
    return `${proto}://${host}`;
  }

  private pickFault(): SimFault | undefined {
    const { throttleRate = 0, errorRate = 0, slowRate = 0 } = this.faults;
    if (throttleRate + errorRate + slowRate <= 0) return undefined;
    const r = this.random();
    if (r < throttleRate) return 'throttle';
    if (r < throttleRate + errorRate) return 'error';
    if (r < throttleRate + errorRate + slowRate) return 'slow';
    return undefined;
  }

  private countUsage(operation: Operation): void {
    if (Date.now() - this.usageWindowStart >= 3_600_000) {
      this.usageWindowStart = Date.now();
      this.usage.read = this.usage.write = this.usage.delete = 0;
    }
    this.usage[operation]++;
  }

  private remaining(operation: Operation): number {
    return Math.max(0, RATE_LIMITS[operation] - this.usage[operation]);
  }

  private send(req: IncomingMessage, res: ServerResponse, reply: Reply, fault?: SimFault, log = true): void {
    if (log) this.record(req, reply.status, fault);
    if (res.writableEnded || res.destroyed) return;
    const clientRequestId = header(req, 'x-ms-client-request-id');
    const correlationRequestId = header(req, 'x-ms-correlation-request-id') ?? randomUUID();
    const requestId = randomUUID();
    const text = reply.body === undefined ? '' : JSON.stringify(reply.body);
    res.writeHead(reply.status, {
      ...(text !== '' ? { 'Content-Type': 'application/json; charset=utf-8' } : {}),
      'Content-Length': String(Buffer.byteLength(text)),
      'Cache-Control': 'no-cache',
      'x-ms-request-id': requestId,
      'x-ms-correlation-request-id': correlationRequestId,
      'x-ms-routing-request-id': `LOCAL:${requestId}`,
      ...(clientRequestId ? { 'x-ms-client-request-id': clientRequestId } : {}),
      ...reply.headers,
    });
    res.end(text);
  }

  private record(req: IncomingMessage, status: number, fault: SimFault | undefined): void {
    const clientRequestId = header(req, 'x-ms-client-request-id');
    const correlationRequestId = header(req, 'x-ms-correlation-request-id');
    this.requestLog.push({
      at: new Date().toISOString(),
      method: (req.method ?? 'GET').toUpperCase(),
      path: req.url ?? '/',
      status,
      ...(fault ? { fault } : {}),
      ...(clientRequestId ? { clientRequestId } : {}),
      ...(correlationRequestId ? { correlationRequestId } : {}),
    });
    if (this.requestLog.length > MAX_LOG_ENTRIES) this.requestLog.splice(0, this.requestLog.length - MAX_LOG_ENTRIES);
  }
}

/** A malformed escape stays as it was and then simply matches no route. */
function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

function toReply(err: ArmError): Reply {
  return { status: err.status, body: err.body(), headers: err.headers };
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function missingApiVersion(): ArmError {
  return badRequest("The api-version query parameter (?api-version=) is required for all requests.", 'MissingApiVersionParameter');
}

function requireJitApiVersion(url: URL): string {
  const apiVersion = url.searchParams.get('api-version');
  if (!apiVersion) throw missingApiVersion();
  if (!(JIT_API_VERSIONS as readonly string[]).includes(apiVersion)) {
    throw badRequest(
      `The resource type 'jitNetworkAccessPolicies' does not support api-version '${apiVersion}'. The supported api-versions are '${JIT_API_VERSIONS.join(', ')}'.`,
      'InvalidApiVersionParameter',
    );
  }
  return apiVersion;
}

/** The api-versions of Microsoft.Security/pricings that read `pricingTier` and `subPlan`. */
const PRICING_API_VERSIONS = ['2022-03-01', '2023-01-01', '2024-01-01'];

function requirePricingApiVersion(url: URL): string {
  const apiVersion = url.searchParams.get('api-version');
  if (!apiVersion) throw missingApiVersion();
  if (!PRICING_API_VERSIONS.includes(apiVersion)) {
    throw badRequest(
      `The resource type 'pricings' does not support api-version '${apiVersion}'. The supported api-versions are '${PRICING_API_VERSIONS.join(', ')}'.`,
      'InvalidApiVersionParameter',
    );
  }
  return apiVersion;
}

function requireMethod(method: string, allowed: string[]): void {
  if (!allowed.includes(method)) {
    throw new ArmError(405, 'MethodNotAllowed', `The method '${method}' is not allowed here; use ${allowed.join(' or ')}.`, { Allow: allowed.join(', ') });
  }
}

function parseJson(text: string): unknown {
  if (text.trim() === '') throw badRequest('The request content was empty.', 'InvalidRequestContent');
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw badRequest(`The request content was invalid and could not be deserialized: '${(err as Error).message}'.`, 'InvalidRequestContent');
  }
}

function decodeSkipToken(token: string): number | null {
  try {
    const parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { o?: unknown };
    return typeof parsed.o === 'number' && Number.isInteger(parsed.o) && parsed.o >= 0 ? parsed.o : null;
  } catch {
    return null;
  }
}

/** What ARM would see as the caller's address; loopback clients show up as IPv4-mapped IPv6. */
function callerAddress(req: IncomingMessage): string {
  const raw = req.socket.remoteAddress ?? '127.0.0.1';
  return normalizeSource(raw) ?? '127.0.0.1';
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new ArmError(413, 'RequestEntityTooLarge', 'The request content is larger than 1 MiB.'));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
