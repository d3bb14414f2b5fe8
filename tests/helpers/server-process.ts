/**
 * A REAL server process (`node --import tsx server/main.ts`, as `npm start` runs it) on an
 * ephemeral loopback port, for the multi-process tests: started with extra environment, ready once
 * `/readyz` answers 200 (or, with `ready: false`, once it listens).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { REPO_ROOT } from '../../server/demo.js';

export interface ServerProc {
  readonly child: ChildProcess;
  readonly base: string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** The last lines the process wrote (for failure messages). */
  tail(): string;
}

const START_TIMEOUT_MS = 60_000;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const live = new Set<ChildProcess>();

export async function startServer(env: NodeJS.ProcessEnv, opts: { ready?: boolean } = {}): Promise<ServerProc> {
  const full: NodeJS.ProcessEnv = { ...process.env, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', ...env };
  delete full.FEEDRANK_ADMIN_TOKEN;
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], { cwd: REPO_ROOT, env: full, stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  const lines: string[] = [];
  const keep = (chunk: string) => {
    for (const l of chunk.split('\n')) if (l) lines.push(l.length > 400 ? `${l.slice(0, 400)}…` : l);
    if (lines.length > 60) lines.splice(0, lines.length - 60);
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
    const timer = setTimeout(() => reject(new Error(`server did not listen within ${START_TIMEOUT_MS} ms:\n${lines.join('\n')}`)), START_TIMEOUT_MS);
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
  const proc = { child, base, exited, tail: () => lines.slice(-20).join('\n') };
  if (opts.ready === false) return proc;
  const deadline = Date.now() + START_TIMEOUT_MS;
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
  if (!ready) throw new Error(`server not ready within ${START_TIMEOUT_MS} ms (exited: ${exitedEarly}):\n${lines.join('\n')}`);
  return proc;
}

/** Sends `signal` and waits for the exit (SIGKILL after `ms`). */
export async function stopServer(p: ServerProc, signal: NodeJS.Signals = 'SIGTERM', ms = 15_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  p.child.kill(signal);
  const e = await Promise.race([p.exited, sleep(ms).then(() => null)]);
  if (e) return e;
  p.child.kill('SIGKILL');
  return p.exited;
}

/** Kills whatever this module started and is still running (afterAll). */
export async function killAll(): Promise<void> {
  const exits = [...live].map((c) => new Promise<void>((r) => c.once('exit', () => r())));
  for (const c of live) c.kill('SIGKILL');
  await Promise.race([Promise.all(exits), sleep(2000)]);
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
