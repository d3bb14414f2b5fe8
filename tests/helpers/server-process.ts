/**
 * The REAL server process for tests and the soak: `node --import tsx server/main.ts`, as `npm start`
 * runs it, on an ephemeral loopback port, with its log kept for failure messages; and small HTTP
 * helpers for talking to it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { REPO_ROOT } from '../../server/demo.js';

export interface ServerProc {
  readonly child: ChildProcess;
  readonly base: string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** The last lines the process wrote (for failure messages). */
  tail(n?: number): string;
  /** Every line kept so far (the last 400). */
  lines(): readonly string[];
}

export interface StartOptions {
  /** FEEDRANK_ARTIFACTS (or give it in `env`). */
  readonly bundleDir?: string;
  /** FEEDRANK_STATE_DIR (or give it in `env`). */
  readonly stateDir?: string;
  /** More environment variables (FEEDRANK_MAX_IN_FLIGHT, FEEDRANK_STORE, …). */
  readonly env?: NodeJS.ProcessEnv;
  readonly timeoutMs?: number;
  /** Resolve once listening, without waiting for /readyz (to watch a failing start-up). */
  readonly waitReady?: boolean;
}

const live = new Set<ChildProcess>();
export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** SIGKILLs every server process still running and waits for them (for afterAll). */
export async function killAll(): Promise<void> {
  const exits = [...live].map((c) => new Promise<void>((r) => c.once('exit', () => r())));
  for (const c of live) c.kill('SIGKILL');
  await Promise.race([Promise.all(exits), sleep(2000)]);
}

/** Starts the server; resolves once /readyz is 200 (or once listening, see `waitReady`). */
export async function startServer(opts: StartOptions): Promise<ServerProc> {
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PORT: '0',
    HOST: '127.0.0.1',
    ...(opts.bundleDir === undefined ? {} : { FEEDRANK_ARTIFACTS: opts.bundleDir }),
    ...(opts.stateDir === undefined ? {} : { FEEDRANK_STATE_DIR: opts.stateDir }),
    FEEDRANK_STORE: 'memory',
    LOG_LEVEL: 'info',
    ...opts.env,
  };
  if (!opts.env?.FEEDRANK_ADMIN_TOKEN) delete env.FEEDRANK_ADMIN_TOKEN;
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  const lines: string[] = [];
  const keep = (chunk: string) => {
    for (const l of chunk.split('\n')) if (l) lines.push(l.length > 4000 ? `${l.slice(0, 4000)}…` : l);
    if (lines.length > 400) lines.splice(0, lines.length - 400);
  };
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('exit', (code, signal) => {
      live.delete(child);
      resolve({ code, signal });
    });
  });
  child.stderr!.setEncoding('utf8').on('data', keep);
  const port = await new Promise<number>((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error(`server did not listen within ${timeoutMs} ms:\n${lines.join('\n')}`)), timeoutMs);
    void exited.then((e) => {
      clearTimeout(timer);
      reject(new Error(`server exited (${JSON.stringify(e)}) before listening:\n${lines.join('\n')}`));
    });
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      keep(chunk);
      buf += chunk;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        try {
          const rec = JSON.parse(line) as { address?: { port?: number } };
          if (rec.address?.port) {
            clearTimeout(timer);
            resolve(rec.address.port);
          }
        } catch {
          // not a log line
        }
      }
      if (buf.length > 1_000_000) buf = '';
    });
  });
  const base = `http://127.0.0.1:${port}`;
  const proc: ServerProc = { child, base, exited, tail: (n = 15) => lines.slice(-n).join('\n'), lines: () => lines };
  if (opts.waitReady === false) return proc;
  const deadline = Date.now() + timeoutMs;
  let ready = false;
  let exitedEarly = false;
  void exited.then(() => (exitedEarly = true));
  while (!ready && !exitedEarly && Date.now() < deadline) {
    try {
      ready = (await fetch(`${base}/readyz`, { signal: AbortSignal.timeout(2000) })).status === 200;
    } catch {
      // not yet
    }
    if (!ready) await sleep(50);
  }
  if (!ready) throw new Error(`server not ready within ${timeoutMs} ms (exited: ${exitedEarly}):\n${lines.join('\n')}`);
  return proc;
}

/** Resident set size of a process (Linux /proc), in bytes; undefined where /proc is missing. */
export function rssOf(pid: number): number | undefined {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Sends `signal` and waits for the exit (SIGKILL after `ms`). */
export async function stopServer(p: ServerProc, signal: NodeJS.Signals = 'SIGTERM', ms = 15_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  p.child.kill(signal);
  const e = await Promise.race([p.exited, sleep(ms).then(() => null)]);
  if (e) return e;
  p.child.kill('SIGKILL');
  return p.exited;
}

export interface JsonResponse {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

export async function http(base: string, method: 'GET' | 'POST', path: string, body?: unknown): Promise<JsonResponse> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(15_000),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** Retries a request answered `503 overloaded` (the lag shedder right after start-up). */
export async function httpRetry(base: string, method: 'GET' | 'POST', path: string, body?: unknown): Promise<JsonResponse> {
  for (let attempt = 0; ; attempt++) {
    const r = await http(base, method, path, body);
    if (r.status !== 503 || (r.body.error as { code?: string } | undefined)?.code !== 'overloaded' || attempt >= 40) return r;
    await sleep(50);
  }
}
