/** FEEDRANK_WORKERS and FEEDRANK_STORE together. */
import { availableParallelism } from 'node:os';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../server/config.js';

const configError = (env: NodeJS.ProcessEnv): ConfigError => {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('loadConfig accepted it');
};

describe('FEEDRANK_WORKERS', () => {
  it('defaults to one worker; takes a number or auto (one per core) with a shared store', () => {
    expect(loadConfig({}).workers).toBe(1);
    expect(loadConfig({ FEEDRANK_WORKERS: '4', FEEDRANK_STORE: 'redis://127.0.0.1:6379' }).workers).toBe(4);
    expect(loadConfig({ FEEDRANK_WORKERS: 'auto', FEEDRANK_STORE: 'redis://127.0.0.1:6379' }).workers).toBe(availableParallelism());
    expect(loadConfig({ FEEDRANK_WORKERS: '1', FEEDRANK_STORE: 'memory' }).workers).toBe(1);
  });

  it('refuses more than one worker with the embedded store, saying why and what to do', () => {
    const err = configError({ FEEDRANK_WORKERS: '2' });
    expect(err.variable).toBe('FEEDRANK_WORKERS');
    expect(err.message).toMatch(/embedded store \(FEEDRANK_STORE=memory\) cannot be shared between processes.*redis:\/\//);
  });

  it.each(['0', '-1', 'two', '1.5', '257', 'AUTO '])('refuses FEEDRANK_WORKERS=%j, naming it', (value) => {
    const err = configError({ FEEDRANK_WORKERS: value, FEEDRANK_STORE: 'redis://127.0.0.1:6379' });
    expect(err.variable).toBe('FEEDRANK_WORKERS');
    expect(err.message).toMatch(/^FEEDRANK_WORKERS must be "auto" \(one per core\) or an integer between 1 and 256/);
  });
});
